/** Files in a server's data directory that the CLI reads too. */
export const SERVER_INFO_FILE = 'server.json';
export const ADMIN_TOKEN_FILE = 'admin.token';
