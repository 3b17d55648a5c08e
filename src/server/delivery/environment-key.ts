/** How the supervisor and the proxies group an environment's instances: `<projectId>:<environment>`. */
export function environmentKey(projectId: string, environment: string): string {
  return `${projectId}:${environment}`;
}
