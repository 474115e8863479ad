import { setMaxListeners } from 'node:events';
/**
 * The run's concurrency slots, shared by every scope. Waiters are served first come, first
 * served, so ready stages start in the order the scheduler asked (the pipeline's order).
 */
export class Slots {
  private free: number;
  private readonly waiting: Array<(granted: boolean) => void> = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Resolves true with a slot, or false when `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      };
      const grant = (granted: boolean) => {
        signal.removeEventListener('abort', onAbort);
        resolve(granted);
      };
      this.waiting.push(grant);
      // One listener per stage waiting on the run's signal, each removed when it is granted: a
      // wide pipeline has more than Node's default of 10 at once, which is not a leak.
      setMaxListeners(0, signal);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next(true);
    else this.free++;
  }
}
