import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api.js';

/** The JSON at `path`, fetched again whenever `tick` goes up; the last good answer stays shown meanwhile. */
export function useJson<T>(path: string, tick: number): { data: T | undefined; error: string | undefined } {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined }>({ data: undefined, error: undefined });
  useEffect(() => {
    let gone = false;
    getJson<T>(path).then(
      (data) => !gone && setState({ data, error: undefined }),
      (err: unknown) => !gone && setState((s) => ({ data: s.data, error: err instanceof Error ? err.message : String(err) })),
    );
    return () => {
      gone = true;
    };
  }, [path, tick]);
  return state;
}
