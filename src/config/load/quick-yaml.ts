import { CORE_SCHEMA, load } from 'js-yaml';

/**
 * The plain value of a YAML text, read the quick way when that is safe; undefined when the text
 * must go through the full reader (load.ts) instead.
 *
 * Why two readers: `yaml` keeps every node's position, which diagnostics need, but it is slow to
 * start (a 500-stage factory.yaml took 137 ms of a cold `apply`'s 280 ms before its first
 * stage; js-yaml reads it in 26 ms). Positions are needed only to report a problem, so a text
 * read here has its `yaml` document built later, on the first position asked for (see
 * `YamlSource` in load.ts), which a valid file never does.
 *
 * Safe means both readers give the same value, which test/config/load/quick-yaml.test.ts checks
 * against `yaml` on the corpus of bad files, the fuzzer's inputs and a list of tricky scalars.
 * Everything where they could differ, or where `yaml` has a check of its own, goes to the full
 * reader, which is right whatever it is given:
 * - anything js-yaml refuses (syntax, duplicate keys, several documents, nesting past 100);
 * - anchors and aliases (`maxAliases: 0`): unknown aliases and alias bombs are judged there;
 * - explicit tags and explicit keys (`!`, `?` starting a token), which the two resolve apart;
 * - a document that is not a map (empty, a scalar, a list): the full reader words it;
 * - a key that reads as null, which the two name differently.
 */
export function quickYamlValue(text: string): Record<string, unknown> | undefined {
  if (RISKY.test(text)) return undefined;
  let value: unknown;
  try {
    value = load(text, { schema: CORE_SCHEMA, maxAliases: 0 });
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return plainKeys(value) ? (value as Record<string, unknown>) : undefined;
}

/** js-yaml names a null key (`~:`, `: x`) "null" where yaml names it "": such a file goes the full way. */
function plainKeys(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every(plainKeys);
  for (const key in value) {
    if (key === 'null') return false;
    if (!plainKeys((value as Record<string, unknown>)[key])) return false;
  }
  return true;
}

/** A tag (`!x`, `!!x`) or an explicit key (`? x`) where a token starts; also matches inside some strings, which only costs the quick path. */
const RISKY = /(?:^|[\s[\]{},])[!?](?:\S|$)|^\s*\?\s/m;
