import { fstatSync, statSync, writeSync } from 'node:fs';

/**
 * What a command may touch of the outside world. `bin/factory.js` passes the real process;
 * tests pass buffers, so the fuzz corpus runs through the same entry function in-process.
 */
export interface CliIO {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/**
 * The real process's. Its streams are created when first used, as Node's own are: building stdin
 * (a socket on a terminal or pipe) for a command that never reads it cost every start.
 */
export function processIO(): CliIO {
  let stdout: CliIO['stdout'] | undefined;
  let stderr: CliIO['stderr'] | undefined;
  return {
    get stdout() {
      return (stdout ??= outputOf(1, () => process.stdout));
    },
    get stderr() {
      return (stderr ??= outputOf(2, () => process.stderr));
    },
    get stdin() {
      return process.stdin;
    },
    cwd: process.cwd(),
    env: process.env,
  };
}

/**
 * Output to a file or pipe is written straight to its descriptor: Node's own stream for it loads
 * net, tty and the stream classes, a tenth of a short command's start (`validate`, `--version`).
 * A terminal gets Node's stream, which knows its width and colours. Writes are synchronous, as
 * Node's are to files and pipes on POSIX; a descriptor that refuses them (EAGAIN: a non-blocking
 * pipe) hands over to Node's stream, after what was written, so nothing is lost or reordered.
 */
function outputOf(fd: 1 | 2, nodeStream: () => NodeJS.WriteStream): CliIO['stdout'] {
  let direct: boolean;
  try {
    const stat = fstatSync(fd);
    direct = !stat.isCharacterDevice() || stat.rdev === statSync('/dev/null').rdev;
  } catch {
    direct = false;
  }
  if (!direct) return nodeStream();
  let stream: NodeJS.WriteStream | undefined;
  let closed = false;
  return {
    isTTY: false,
    write(text: string): boolean {
      if (closed) return false;
      if (stream) return stream.write(text);
      const bytes = Buffer.from(text);
      let at = 0;
      try {
        while (at < bytes.length) at += writeSync(fd, bytes, at);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // A reader that went away (`factory runs | head`): the rest is not wanted, as with a stream.
        if (code === 'EPIPE') closed = true;
        else {
          stream = nodeStream();
          // The same quiet end when the reader goes away later, instead of an unhandled 'error'.
          stream.on('error', (e: NodeJS.ErrnoException) => {
            if (e.code !== 'EPIPE') throw e;
            closed = true;
          });
          return stream.write(bytes.subarray(at));
        }
      }
      return true;
    },
  };
}

/** The width to fit text to: a terminal's columns, else $COLUMNS; undefined for a pipe without it. */
export function widthOf(io: CliIO, stream: 'stdout' | 'stderr' = 'stderr'): number | undefined {
  const s = io[stream] as { isTTY?: boolean; columns?: number };
  if (s.isTTY === true && typeof s.columns === 'number' && s.columns > 0) return s.columns;
  const columns = Number(io.env.COLUMNS);
  return Number.isInteger(columns) && columns > 0 ? columns : undefined;
}

/** Colour only on a terminal, never with NO_COLOR (https://no-color.org), forced by FORCE_COLOR. */
export function useColor(io: CliIO, stream: 'stdout' | 'stderr' = 'stderr'): boolean {
  const { NO_COLOR, FORCE_COLOR } = io.env;
  if (NO_COLOR !== undefined && NO_COLOR !== '') return false;
  if (FORCE_COLOR !== undefined && FORCE_COLOR !== '' && FORCE_COLOR !== '0') return true;
  return io[stream].isTTY === true && io.env.TERM !== 'dumb';
}
