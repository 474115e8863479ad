/** A JSON path as people read it: `messages[0].content[1].text`, `$` for the whole value. */
export function jsonPath(path: readonly (string | number)[]): string {
  let out = '$';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
  return out === '$' ? '$' : out.slice(1).replace(/^\./, '');
}

export interface JsonDifference {
  path: string;
  expected: unknown;
  actual: unknown;
}

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * The first place where two JSON values differ, in document order (object keys in the order of
 * `expected`, then keys only `actual` has), or undefined when they are deeply equal. A key whose
 * value is undefined counts as absent, as in JSON.
 */
export function firstDifference(expected: unknown, actual: unknown, path: (string | number)[] = []): JsonDifference | undefined {
  if (Object.is(expected, actual)) return undefined;
  const k = kind(expected);
  if (k !== kind(actual) || (k !== 'object' && k !== 'array')) return { path: jsonPath(path), expected, actual };
  if (k === 'array') {
    const a = expected as unknown[];
    const b = actual as unknown[];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], [...path, i]);
      if (d) return d;
    }
    return undefined;
  }
  const a = expected as Record<string, unknown>;
  const b = actual as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  for (const key of keys) {
    const d = firstDifference(a[key], b[key], [...path, key]);
    if (d) return d;
  }
  return undefined;
}
