/**
 * Keeps what a stream wrote for `outputs`: the first and the last part up to a cap, with a
 * marker saying how much was left out and where the full text is. Bytes are kept as bytes and
 * decoded once at the end (invalid UTF-8 becomes U+FFFD), so binary output breaks nothing.
 */

/** Bytes of stdout (and of stderr) kept in outputs. */
export const OUTPUT_CAP_BYTES = 64 * 1024;

export class CappedCapture {
  private readonly head: Uint8Array[] = [];
  private headBytes = 0;
  private tail: Uint8Array[] = [];
  private tailBytes = 0;
  private total = 0;
  /** Everything, kept only when the caller needs the whole text (parse: json). */
  private readonly full: Uint8Array[] | undefined;

  constructor(
    private readonly cap = OUTPUT_CAP_BYTES,
    keepFull = false,
  ) {
    this.full = keepFull ? [] : undefined;
  }

  get size(): number {
    return this.total;
  }

  add(chunk: Uint8Array): void {
    this.total += chunk.length;
    this.full?.push(chunk);
    const half = this.cap / 2;
    let rest = chunk;
    if (this.headBytes < half) {
      const take = Math.min(half - this.headBytes, rest.length);
      this.head.push(rest.subarray(0, take));
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    while (this.tailBytes - (this.tail[0]?.length ?? 0) >= half) this.tailBytes -= this.tail.shift()!.length;
  }

  /** The kept text; `where` names the file with the full text for the marker. */
  text(where: string): string {
    const half = this.cap / 2;
    const head = Buffer.concat(this.head);
    let tail = Buffer.concat(this.tail);
    if (this.total <= this.cap) return Buffer.concat([head, tail]).toString('utf8');
    if (tail.length > half) tail = tail.subarray(tail.length - half);
    const omitted = this.total - head.length - tail.length;
    return `${head.toString('utf8')}\n… [${omitted} bytes omitted; the full output is in ${where}] …\n${tail.toString('utf8')}`;
  }

  /** The whole stream as text; only with `keepFull`. */
  fullText(): string {
    return Buffer.concat(this.full ?? []).toString('utf8');
  }
}
