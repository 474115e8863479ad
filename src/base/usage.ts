/** Token counts as providers report them, in the Messages API's names (docs/models-and-budgets.md). */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export const ZERO_USAGE: Usage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

/** Adds `u` into `into`, field by field. */
export function addUsage(into: Usage, u: Usage): void {
  into.input_tokens += u.input_tokens;
  into.output_tokens += u.output_tokens;
  into.cache_creation_input_tokens += u.cache_creation_input_tokens;
  into.cache_read_input_tokens += u.cache_read_input_tokens;
}

/** Every input token, cached or not: what a budget in tokens counts on the way in. */
export function inputTokens(u: Usage): number {
  return u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
}

/** Every token of a call, in and out: what a budget in tokens counts (0 when nothing was reported). */
export function totalTokens(u: Usage | undefined): number {
  return u ? inputTokens(u) + u.output_tokens : 0;
}
