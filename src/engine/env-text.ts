import type { JsonValue } from '../config/pipeline.js';

/** A value given to `env:` as text (docs/configuration.md): numbers and booleans as written, null empty, lists and maps as JSON. */
export function envText(value: JsonValue): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
