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
  return {
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    get stdin() {
      return process.stdin;
    },
    cwd: process.cwd(),
    env: process.env,
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
