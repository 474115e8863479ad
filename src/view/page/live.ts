import { useEffect, useState } from 'preact/hooks';
import { withToken } from './api.js';

type Listener = (runs: string[]) => void;
const listeners = new Set<Listener>();
let source: EventSource | undefined;

/** One server-sent event stream for the page; each view listens to the runs it shows. */
function connect(): void {
  if (source) return;
  source = new EventSource(withToken('/api/events'));
  source.addEventListener('change', (e) => {
    const { runs } = JSON.parse((e as MessageEvent<string>).data) as { runs: string[] };
    for (const l of listeners) l(runs);
  });
}

/** At most this often a view fetches again while a run writes: a busy run changes many times a second. */
const THROTTLE_MS = 250;

/**
 * A counter that goes up when the records of `run` change (any run when undefined): a view
 * fetches again when it changes. Changes that come while a fetch is due are taken together.
 */
export function useLive(run: string | undefined): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    connect();
    let timer: number | undefined;
    let last = 0;
    const fire = () => {
      timer = undefined;
      last = Date.now();
      setTick((t) => t + 1);
    };
    const l: Listener = (runs) => {
      if (run !== undefined && !runs.includes(run) && !runs.includes('*')) return;
      if (timer !== undefined) return;
      timer = window.setTimeout(fire, Math.max(0, last + THROTTLE_MS - Date.now()));
    };
    listeners.add(l);
    return () => {
      listeners.delete(l);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [run]);
  return tick;
}
