import parseDuration from 'parse-duration';

/** `90s`, `5m`, `1h30m`, `250ms`, `1.5h`, `2d`: units in descending order, no spaces or signs. */
const DURATION = /^(?:\d+(?:\.\d+)?d)?(?:\d+(?:\.\d+)?h)?(?:\d+(?:\.\d+)?m(?!s))?(?:\d+(?:\.\d+)?s)?(?:\d+(?:\.\d+)?ms)?$/;

/** Milliseconds of a duration string, or undefined when it is not one. */
export function durationMs(text: string): number | undefined {
  if (text === '' || !DURATION.test(text)) return undefined;
  const ms = parseDuration(text);
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : undefined;
}

export const DURATION_HINT = 'write a duration such as `90s`, `5m`, `1h30m` or `250ms`';

const TOKENS = /^(\d+(?:\.\d+)?)([kKmM]?)$/;

/** A token count: an integer, or a number with a `k` (thousand) or `M` (million) suffix. */
export function tokenCount(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = TOKENS.exec(value.trim());
  if (!m) return undefined;
  const factor = m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1_000 : 1_000_000;
  return Math.round(Number(m[1]) * factor);
}

export const TOKENS_HINT = 'write a token count such as `500000`, `500k` or `2M`';
