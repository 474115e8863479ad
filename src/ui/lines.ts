import { iterationKey, type Iteration } from '../records/iteration.js';

/**
 * Turns `stage_output` chunks into whole lines: a chunk may end mid-line, so the rest is kept
 * per key (stage, iteration and stream) until its newline comes or the stage ends.
 */
export class LineBuffer {
  private readonly partial = new Map<string, string>();

  /** The complete lines this chunk finishes (without their newline). */
  push(key: string, chunk: string): string[] {
    const text = (this.partial.get(key) ?? '') + chunk;
    const parts = text.split('\n');
    const rest = parts.pop() ?? '';
    if (rest === '') this.partial.delete(key);
    else this.partial.set(key, rest);
    return parts.map(cleanLine);
  }

  /** The unfinished line of this key, if any, which is then forgotten. */
  flush(key: string): string | undefined {
    const rest = this.partial.get(key);
    this.partial.delete(key);
    return rest === undefined ? undefined : cleanLine(rest);
  }

  /** Flush every key accepted by `select`, in the order they were first written. */
  flushWhere(select: (key: string) => boolean): [string, string][] {
    const out: [string, string][] = [];
    for (const key of [...this.partial.keys()]) {
      if (!select(key)) continue;
      const line = this.flush(key);
      if (line !== undefined) out.push([key, line]);
    }
    return out;
  }

  /** The unfinished text of a key without flushing it (what a live view shows). */
  peek(key: string): string | undefined {
    const rest = this.partial.get(key);
    return rest === undefined ? undefined : cleanLine(rest);
  }
}

/** A line as a terminal would leave it: CRLF ends are dropped, `\r` rewrites keep the last text. */
export function cleanLine(line: string): string {
  const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
  const cut = trimmed.lastIndexOf('\r');
  return cut < 0 ? trimmed : trimmed.slice(cut + 1);
}

export function outputKey(stage: string, iteration: Iteration | undefined, stream: string): string {
  return `${stage}\u0000${iterationKey(iteration)}\u0000${stream}`;
}

/** A key's parts; its iteration as iterationKey writes it ('' in no loop). */
export function keyStage(key: string): { stage: string; iteration: string; stream: string } {
  const [stage = '', iteration = '', stream = ''] = key.split('\u0000');
  return { stage, iteration, stream };
}
