import { openSync } from 'node:fs';
import { closeQuietly, writeAllSync } from './atomic.js';
import { describeFsError } from '../base/fs-error.js';

/**
 * The full output of one stream of one stage, appended as it arrives. The file is created on the
 * first byte, so a stage that prints nothing costs no file. Failures are kept, not thrown.
 */
export class LogWriter {
  private fd: number | undefined;
  private failed: string | undefined;
  private written = 0;

  /** `append`: keep what the file holds (a retried attempt's output follows the earlier ones'). */
  constructor(
    readonly file: string,
    private readonly append = false,
  ) {}

  get error(): string | undefined {
    return this.failed;
  }

  get bytes(): number {
    return this.written;
  }

  write(chunk: Uint8Array): void {
    if (this.failed !== undefined) return;
    try {
      this.fd ??= openSync(this.file, this.append ? 'a' : 'w');
      writeAllSync(this.fd, chunk);
      this.written += chunk.length;
    } catch (err) {
      this.failed = describeFsError(err, this.file);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    closeQuietly(this.fd);
    this.fd = undefined;
  }
}
