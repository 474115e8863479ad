/**
 * Keeps what a stream wrote, for outputs, transcripts and tool results: the first and the last
 * part up to a cap, with a marker saying how much was left out (and where the full text is,
 * when there is such a place). Bytes are kept as bytes and decoded once at the end (invalid
 * UTF-8 becomes U+FFFD), so binary output breaks nothing. Command stages, scenario steps and the
 * agent's processes all capture through it.
 */

/** Bytes of stdout (and of stderr) kept in outputs. */
export const OUTPUT_CAP_BYTES = 64 * 1024;

export interface CaptureOptions {
  /** Keep everything too (for `parse: json`). */
  keepFull?: boolean;
  /** The share of the cap given to the start of the stream; the rest keeps its end. Default ½. */
  headShare?: number;
}

export class CappedCapture {
  private readonly head: Uint8Array[] = [];
  private headBytes = 0;
  private tail: Uint8Array[] = [];
  private tailBytes = 0;
  private total = 0;
  private readonly headCap: number;
  private readonly tailCap: number;
  /** Everything, kept only when the caller needs the whole text (parse: json). */
  private readonly full: Uint8Array[] | undefined;

  constructor(
    private readonly cap = OUTPUT_CAP_BYTES,
    options: CaptureOptions = {},
  ) {
    this.headCap = Math.floor(cap * (options.headShare ?? 0.5));
    this.tailCap = cap - this.headCap;
    this.full = options.keepFull ? [] : undefined;
  }

  get size(): number {
    return this.total;
  }

  add(chunk: Uint8Array): void {
    this.total += chunk.length;
    this.full?.push(chunk);
    let rest = chunk;
    if (this.headBytes < this.headCap) {
      const take = Math.min(this.headCap - this.headBytes, rest.length);
      this.head.push(rest.subarray(0, take));
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= this.tailCap) this.tailBytes -= this.tail.shift()!.length;
  }

  /** The kept text; `where`, when given, names the place of the full text in the marker. */
  text(where?: string): string {
    const head = Buffer.concat(this.head);
    let tail = Buffer.concat(this.tail);
    if (this.total <= this.cap) return Buffer.concat([head, tail]).toString('utf8');
    if (tail.length > this.tailCap) tail = tail.subarray(tail.length - this.tailCap);
    const omitted = this.total - head.length - tail.length;
    const full = where ? `; the full output is in ${where}` : '';
    return `${head.toString('utf8')}\n… [${omitted} bytes omitted${full}] …\n${tail.toString('utf8')}`;
  }

  /** The whole stream as text; only with `keepFull`. */
  fullText(): string {
    return Buffer.concat(this.full ?? []).toString('utf8');
  }
}
