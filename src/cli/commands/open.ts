/** `gantry open`: a one-time link that signs a browser in to the dashboard, opened where a desktop exists. */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { ApiClient, serverAddress } from '../api-client.ts';
import { dim } from '../output.ts';

export function registerOpenCommand(program: Command): void {
  program
    .command('open')
    .description('sign a browser in to the dashboard with a one-time link (valid 10 minutes)')
    .option('--no-browser', 'only print the link')
    .action(async (opts: { browser: boolean }) => {
      const client = new ApiClient(serverAddress((program.opts() as { data?: string }).data));
      const link = await client.request<{ url: string; expiresAt: string }>('POST', '/api/login-links');
      process.stdout.write(`${link.url}\n${dim('one-time link, valid for 10 minutes — it signs in the browser that opens it')}\n`);
      if (opts.browser) openInBrowser(link.url);
    });
}

/** Best effort: a desktop session's opener, detached; silently nothing on a headless machine. */
export function openInBrowser(url: string): void {
  const opener =
    process.platform === 'darwin'
      ? 'open'
      : process.platform === 'win32'
        ? 'explorer'
        : process.env.DISPLAY || process.env.WAYLAND_DISPLAY
          ? 'xdg-open'
          : null;
  if (!opener) return;
  const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
}
