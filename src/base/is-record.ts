/** A plain map of a config value (not null, not a list): what YAML maps become. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
