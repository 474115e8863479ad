import { spawn } from 'node:child_process';
import { InvalidArgumentError, type Command } from 'commander';
import { findWorkspace } from '../records/workspace.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';

/**
 * `factory view [DIR] [--port N] [--no-open]` (docs/view.md): serves the runs of DIR's records
 * as a web page on 127.0.0.1 until interrupted (exit 130, as any interrupted command).
 */
export function registerView(program: Command, io: CliIO): Command {
  return program
    .command('view')
    .description('the runs as a web page on 127.0.0.1, live while a run goes')
    .argument('[dir]', 'the folder holding .factory, or its factory.yaml (default: the current directory)')
    .option('--port <n>', 'the port to listen on (default: a free one)', port)
    .option('--no-open', 'print the URL without opening a browser')
    .action(async (dir: string | undefined, opts: { port?: number; open: boolean }) => {
      const ws = findWorkspace(dir, io.cwd);
      if (!ws.ok) {
        io.stderr.write(`factory view: ${ws.error}\n`);
        throw new ExitError(EXIT.usage);
      }
      const { startViewServer } = await import('../view/server.js');
      let server;
      try {
        server = await startViewServer({ workspace: ws.dir, ...(opts.port === undefined ? {} : { port: opts.port }), env: io.env });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        io.stderr.write(`factory view: cannot listen on 127.0.0.1:${opts.port ?? 0}: ${code === 'EADDRINUSE' ? 'the port is in use; give another with --port, or leave it out for a free one' : String(err)}\n`);
        throw new ExitError(EXIT.usage);
      }
      io.stdout.write(`factory view: the runs of ${ws.dir} at\n  ${server.url}\n(Ctrl-C stops it)\n`);
      if (opts.open) openBrowser(server.url, io);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      throw new ExitError(EXIT.interrupted);
    });
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a port from 1 to 65535.');
  return n;
}

/**
 * The platform's opener, and on Linux and BSDs only when a display exists (a server over SSH has
 * none: the printed URL is the way there). Failing to open is not an error: the URL is printed.
 */
function openBrowser(url: string, io: CliIO): void {
  const opener = process.platform === 'darwin' ? ['open', url] : process.platform === 'win32' ? ['cmd', '/c', 'start', '""', url] : io.env.DISPLAY || io.env.WAYLAND_DISPLAY ? ['xdg-open', url] : undefined;
  if (!opener) return;
  try {
    const child = spawn(opener[0]!, opener.slice(1), { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // the URL is printed
  }
}
