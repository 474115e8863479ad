import { load, type State } from 'js-yaml';
import { contentStart, followedByColon, QUICK_SCHEMA } from './js-yaml-core.js';

/**
 * The plain value of a YAML text, read the quick way when that is safe; undefined when the text
 * must go through the full reader (load.ts) instead.
 *
 * Why two readers: `yaml` keeps every node's position, which diagnostics need, but it is slow
 * (a 500-stage factory.yaml took 137 ms of a cold `apply`'s 280 ms before its first stage, and
 * a 10,000-stage one 850 ms; js-yaml 4 reads that in 105 ms, js-yaml 5 in 200 ms, which is why
 * this is js-yaml 4). Positions are needed only to report a problem, so a text read here has its
 * `yaml` document built later, on the first position asked for (see `YamlSource` in load.ts),
 * which a valid file never does.
 *
 * Safe means both readers give the same value, which test/config/load/quick-yaml.test.ts checks
 * against `yaml` on the corpus of bad files, the fuzzer's inputs and a list of tricky scalars.
 * Everything where they could differ, or where `yaml` has a check of its own, goes to the full
 * reader, which is right whatever it is given:
 * - anything js-yaml refuses (syntax, duplicate keys, several documents, nesting past 100);
 * - an alias of a map or a list (js-yaml hands back the anchored object itself, found as an object
 *   met twice): alias bombs are judged there. An alias of a scalar is its value in both readers;
 *   an unknown alias js-yaml refuses;
 * - explicit tags and explicit keys (`!`, `?` starting a token), which the two resolve apart;
 * - a quoted string or a `[...]`/`{...}` that goes on over lines less indented than yaml requires
 *   (js-yaml takes them), and a `[...]` or `{...}` as a key: see `flowNodesOk`;
 * - a document that is not a map (empty, a scalar, a list): the full reader words it;
 * - a key that reads as null, which the two name differently.
 * Numbers are resolved by yaml's own rules of the YAML 1.2 core schema (js-yaml-core.ts), where
 * js-yaml's differ (`0b1`, `-0x1`, `-0`).
 */
export function quickYamlValue(source: string): Record<string, unknown> | undefined {
  // js-yaml drops a byte-order mark before it reads: without it here too, the offsets its events
  // give are those of this text.
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  if (RISKY.test(text)) return undefined;
  const flow = flowNodesOk(text);
  let value: unknown;
  try {
    value = load(text, { schema: QUICK_SCHEMA, listener: flow.listener });
  } catch {
    return undefined;
  }
  if (!flow.ok()) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  // Only an alias (`*name`) can make two places hold one object.
  return plainKeys(value, text.includes('*') ? new Set() : undefined) ? (value as Record<string, unknown>) : undefined;
}

/**
 * js-yaml names a null key (`~:`, `: x`) "null" where yaml names it "": such a file goes the full
 * way, as does one where an object is met twice (`seen`, given when the text may hold an alias).
 */
function plainKeys(value: unknown, seen: Set<object> | undefined): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (seen) {
    if (seen.has(value)) return false;
    seen.add(value);
  }
  if (Array.isArray(value)) return value.every((item) => plainKeys(item, seen));
  for (const key in value) {
    if (key === 'null') return false;
    if (!plainKeys((value as Record<string, unknown>)[key], seen)) return false;
  }
  return true;
}

/**
 * A tag (`!x`, `!!x`) or an explicit key (`? x`) where a token starts; or a list in a list whose
 * first item is empty (`- -` ending a line), after which js-yaml puts the outer list's next item
 * in the inner list; or a `#` right after a closing quote or bracket, which js-yaml takes as a
 * comment and yaml refuses; or a key with its value on a later line and a comment between, no more
 * indented than the key, which yaml refuses when a scalar and a next key follow; or a carriage
 * return alone, or a byte-order mark past the start, which the two read apart. Also matches
 * inside some strings, which only costs the quick path.
 */
const RISKY = /(?:^|[\s[\]{},])[!?](?:\S|$)|^\s*\?\s|^[ \t]*(?:-[ \t]+)+-[ \t]*\r?$|[\]}"']#|^( *)\S[^\n]*:[ \t]*\r?\n(?:[ \t]*\r?\n)*(?!\1 ) *#|\r(?!\n)|\ufeff/m;

/**
 * yaml requires the lines a quoted string or a flow collection (`[...]`, `{...}`) goes on over to
 * be indented past the block they sit in (`p: "a⏎b"` under a key at column 4 needs column 5);
 * js-yaml takes them at any indent. Fed js-yaml's node events, this finds each such node that
 * spans lines and asks each later non-blank line of it to be indented past the start of its first
 * line's innermost entry (after any `- `), which is that block or deeper: sometimes stricter than
 * yaml, which only costs the quick path. It also finds a flow collection used as a key.
 */
function flowNodesOk(text: string): { listener: (event: 'open' | 'close', state: State) => void; ok: () => boolean } {
  const opened: number[] = [];
  let ok = true;
  // Most files have no collection that could be a key: those skip the look around each one.
  const keysPossible = /[\]}][ \t]*:|[{,]\s*[[{]/.test(text);
  const listener = (event: 'open' | 'close', state: State): void => {
    if (event === 'open') {
      opened.push(state.position);
      return;
    }
    const from = opened.pop()!;
    if (!ok) return;
    const end = state.position;
    const last = text.charCodeAt(end - 1);
    // `"`, `'`, `]`, `}`: only a flow node ends so (a plain scalar ending in one is caught below).
    if (last !== 0x22 && last !== 0x27 && last !== 0x5d && last !== 0x7d) return;
    const start = contentStart(text, from, end);
    const first = text.charCodeAt(start);
    if (first !== 0x22 && first !== 0x27 && first !== 0x5b && first !== 0x7b) return;
    if (keysPossible && (first === 0x5b || first === 0x7b) && isKey(text, start, end, opened)) {
      // A collection as a key: js-yaml makes it a string ('a,b'), yaml its own text.
      ok = false;
      return;
    }
    let newline = text.indexOf('\n', start);
    if (newline === -1 || newline >= end) return;
    const lineStart = text.lastIndexOf('\n', start - 1) + 1;
    const need = entryColumn(text, lineStart);
    while (newline !== -1 && newline < end) {
      let i = newline + 1;
      while (text.charCodeAt(i) === 0x20) i++;
      const c = text.charCodeAt(i);
      const blank = c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) === 0x0a);
      if (!blank && i - newline - 1 <= need) {
        ok = false;
        return;
      }
      newline = text.indexOf('\n', i);
    }
  };
  return { listener, ok: () => ok };
}

/**
 * Whether the flow collection at start..end is a key: followed by `:` (`[a]: 1`), or inside a
 * `{...}` without a `:` before it (`{ {a} }`, `{ x: 1, [a] }`). `opened` holds where the nodes
 * around it were opened, the nearest last.
 */
function isKey(text: string, start: number, end: number, opened: readonly number[]): boolean {
  if (followedByColon(text, end)) return true;
  const parent = opened.at(-1);
  if (parent === undefined || text.charCodeAt(contentStart(text, parent, start)) !== 0x7b) return false;
  let before = start - 1;
  while (before >= 0 && /\s/.test(text[before]!)) before--;
  return text.charCodeAt(before) !== 0x3a;
}

/** The column of a line's innermost block entry: its indent, past any `- ` sequence entries. */
function entryColumn(text: string, lineStart: number): number {
  let i = lineStart;
  for (;;) {
    while (text.charCodeAt(i) === 0x20) i++;
    if (text.charCodeAt(i) === 0x2d && /[ \t]/.test(text[i + 1] ?? '')) i += 1;
    else return i - lineStart;
  }
}
