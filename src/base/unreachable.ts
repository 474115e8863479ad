/**
 * The `default:` of a switch that covers every variant of a union: it takes `never`, so a new
 * variant fails to compile until every switch handles it. Reaching it at run time is a bug
 * (a value that bypassed the types, such as JSON read from disk), hence the throw.
 */
export function unreachable(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
