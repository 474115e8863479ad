/**
 * Seeded text mutations of YAML files, for the tests that check the quick reader and its position
 * index against `yaml` (test/config/load): each text is one of `bases`, maybe saved with CRLF,
 * then changed one to three times by inserting one of `bits`, cutting a few characters, or
 * repeating a line elsewhere. The same seed gives the same texts.
 */
export interface MutationOptions {
  seed: number;
  count: number;
  bits: readonly string[];
  /** Below this draw a change inserts a bit, below `cut` it cuts; above, it repeats a line. */
  insert: number;
  cut: number;
  /** The share of texts saved with CRLF first; none when absent. */
  crlf?: number;
}

export function* yamlMutations(bases: readonly string[], o: MutationOptions): Generator<string> {
  let seed = o.seed;
  const rng = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < o.count; i++) {
    let text = bases[Math.floor(rng() * bases.length)]!;
    if (o.crlf !== undefined && rng() < o.crlf) text = text.replace(/\n/g, '\r\n');
    for (let m = 0; m <= Math.floor(rng() * 3); m++) {
      const at = Math.floor(rng() * text.length);
      const r = rng();
      if (r < o.insert) text = text.slice(0, at) + o.bits[Math.floor(rng() * o.bits.length)] + text.slice(at);
      else if (r < o.cut) text = text.slice(0, at) + text.slice(at + 1 + Math.floor(rng() * 4));
      else {
        const lines = text.split('\n');
        lines.splice(Math.floor(rng() * lines.length), 0, lines[Math.floor(rng() * lines.length)]!);
        text = lines.join('\n');
      }
    }
    yield text;
  }
}
