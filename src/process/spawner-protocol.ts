/**
 * The wire format between factory and its spawn helper (spawner-main.ts). It is shared by both
 * ends and imports nothing, so the helper stays a few kilobytes of code.
 *
 * factory → helper, one JSON object per line (requests are small and rare next to output):
 *   {"v":ID,"env":{...}}                         keep an environment under ID (sent once per env)
 *   {"d":ID}                                     forget environment ID
 *   {"s":ID,"f":FILE,"a":[ARGS],"c":CWD,"e":ENV,"x":ADD} start a program; ENV is an env ID or an
 *                                                object, ADD (optional) variables set over it
 *
 * helper → factory, binary frames (output is bytes and must stay bytes):
 *   kind (u8) · request id (u32 LE) · payload length (u32 LE) · payload
 */
export const HEADER_BYTES = 9;

export const FRAME = {
  /** The helper has loaded and reads requests. Id 0, no payload. */
  ready: 0,
  /** The program started; payload: its pid (u32 LE). */
  spawned: 1,
  stdout: 2,
  stderr: 3,
  /** The program could not be started; payload: JSON {code, message}. Last frame of the id. */
  failed: 4,
  /** The program ended and its pipes closed; payload: JSON [exitCode|null, signal|null]. Last frame of the id. */
  exit: 5,
} as const;

export type FrameKind = (typeof FRAME)[keyof typeof FRAME];
const MAX_KIND = 5;
/** Far above any pipe read (64 KiB) the helper forwards. */
const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export interface SpawnMessage {
  s: number;
  f: string;
  a: string[];
  c: string;
  e: number | Record<string, string>;
  x?: Record<string, string>;
}

export function frameHeader(kind: FrameKind, id: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header[0] = kind;
  header.writeUInt32LE(id, 1);
  header.writeUInt32LE(length, 5);
  return header;
}

/**
 * Splits a byte stream into frames. A payload that lies within one chunk is handed out as a view
 * of it (no copy); chunks are never reused, so views stay valid.
 */
export class FrameReader {
  private pending: Buffer | undefined;
  private broken = false;

  constructor(
    private readonly onFrame: (kind: number, id: number, payload: Buffer) => void,
    /** The stream is not this protocol (a frame no helper sends): nothing more is read. */
    private readonly onGarbage: () => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let at = 0;
    while (buf.length - at >= HEADER_BYTES) {
      const length = buf.readUInt32LE(at + 5);
      if (buf[at]! > MAX_KIND || length > MAX_PAYLOAD_BYTES) {
        this.broken = true;
        this.onGarbage();
        return;
      }
      const end = at + HEADER_BYTES + length;
      if (end > buf.length) break;
      this.onFrame(buf[at]!, buf.readUInt32LE(at + 1), buf.subarray(at + HEADER_BYTES, end));
      at = end;
    }
    if (at < buf.length) {
      // Keep a copy of the partial frame only: holding a view would pin the whole chunk.
      this.pending = Buffer.from(buf.subarray(at));
    }
  }
}
