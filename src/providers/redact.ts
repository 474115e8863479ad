/** What a secret is replaced with in transcripts, records and messages. */
export const REDACTED = '[redacted]';

const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD/i;
/** Anthropic API keys (`sk-ant-api03-…`, `sk-ant-admin01-…`), whatever variable holds them. */
const ANTHROPIC_KEY = /sk-ant-[A-Za-z0-9_-]+/g;
/** OpenAI project, service-account and admin keys (`sk-proj-…`), whatever variable holds them. */
const OPENAI_KEY = /sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{16,}/g;
/** Values too common to be secrets: replacing them would garble every transcript. */
const NOT_SECRETS = new Set(['true', 'false', 'null', 'none', 'undefined', 'yes', 'no']);

/** The values of variables whose names say they hold a secret (at least 4 characters). */
export function secretValues(env: Readonly<Record<string, string | undefined>>): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value.length < 4 || !SECRET_NAME.test(name)) continue;
    if (NOT_SECRETS.has(value.toLowerCase())) continue;
    values.add(value);
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...values].sort((a, b) => b.length - a.length);
}

/** A function that redacts the secrets of `env` (computed once, for many strings). */
export function redactor(env: Readonly<Record<string, string | undefined>>): (text: string) => string {
  const secrets = secretValues(env);
  return (text) => {
    let out = text;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out.replace(ANTHROPIC_KEY, REDACTED).replace(OPENAI_KEY, REDACTED);
  };
}

/**
 * Replaces every secret in `text` with `[redacted]`: the values of environment variables whose
 * names contain KEY, TOKEN, SECRET or PASSWORD, and anything shaped like an Anthropic or OpenAI key.
 */
export function redactSecrets(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return redactor(env)(text);
}

/** `redactSecrets` applied to every string (keys included) of a JSON value; returns a copy. */
export function redactJson<T>(value: T, env: Readonly<Record<string, string | undefined>>): T {
  const clean = redactor(env);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return clean(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [clean(k), walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}
