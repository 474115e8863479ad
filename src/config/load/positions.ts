import { load, type State } from 'js-yaml';
import { contentStart, followedByColon, isSpace, QUICK_SCHEMA, skipBlanks } from './js-yaml-core.js';

/**
 * Where each node of a YAML text sits, read with js-yaml: what a diagnostic's position needs,
 * without `yaml`'s document, which takes longer to build than the rest of a `validate` (the
 * reference example's one warning cost 12 ms that way, a 10,000-stage file's 850 ms).
 *
 * Only for a text the quick reader took (quick-yaml.ts): there both readers agree on the value.
 * The ranges are yaml's own (start, and end of the value without trailing space), which
 * test/config/load/positions.test.ts checks node by node against yaml's on every YAML file of
 * the project and thousands of mutations. Where js-yaml's events cannot say which node is which
 * (a `key: value` pair inside a `[...]`), `indexPositions` gives up and yaml's document is built.
 */
export interface NodeRange {
  start: number;
  end: number;
  scalar: boolean;
}

interface Node extends NodeRange {
  kind: 'scalar' | 'mapping' | 'sequence' | null;
  value: unknown;
  children: Node[];
  /** For a key: whether a `:` and a value follow it. */
  hasValue?: boolean;
}

/** The nodes a path leads to: the value at its end (or the nearest ancestor there is), and its key. */
export interface PathNodes {
  key?: NodeRange;
  value?: NodeRange;
  /** Whether every segment of the path was found. */
  complete: boolean;
}

export class PositionIndex {
  readonly #lineStarts: number[];

  constructor(
    private readonly root: Node,
    text: string,
  ) {
    this.#lineStarts = [0];
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.#lineStarts.push(i + 1);
  }

  nodesAt(at: readonly (string | number)[]): PathNodes {
    let node: Node | undefined = this.root;
    let key: Node | undefined;
    let complete = true;
    for (const segment of at) {
      const found: { key?: Node; value?: Node } | undefined = node && childAt(node, segment);
      if (!found) {
        complete = false;
        break;
      }
      key = found.key;
      node = found.value;
    }
    return { ...(key ? { key: rangeOf(key) } : {}), ...(node ? { value: rangeOf(node) } : {}), complete };
  }

  /** Line and column (1-based, in UTF-16 units) of an offset, as yaml's LineCounter gives them. */
  linePos(offset: number): { line: number; col: number } {
    const starts = this.#lineStarts;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, col: offset - starts[low]! + 1 };
  }
}

function rangeOf(node: Node): NodeRange {
  return { start: node.start, end: node.end, scalar: node.scalar };
}

function childAt(node: Node, segment: string | number): { key?: Node; value?: Node } | undefined {
  if (node.kind === 'mapping') {
    const children = node.children;
    // Keys and values in turn; a key of a `{...}` may have no value (`{ a }`), known by the `:` after it.
    for (let i = 0; i < children.length; i++) {
      const key = children[i]!;
      const value = key.hasValue ? children[i + 1] : undefined;
      if (key.hasValue) i++;
      if (String(key.value) === String(segment)) return value ? { key, value } : { key };
    }
    return undefined;
  }
  if (node.kind === 'sequence' && typeof segment === 'number') {
    const item = node.children[segment];
    return item ? { value: item } : undefined;
  }
  return undefined;
}

/** The position index of a text the quick reader took; undefined where it cannot place nodes as yaml does. */
export function indexPositions(source: string): PositionIndex | undefined {
  // js-yaml drops a byte-order mark: its offsets are one short of the text's.
  const shift = source.charCodeAt(0) === 0xfeff ? 1 : 0;
  const text = shift ? source.slice(1) : source;
  const stack: { from: number; children: Node[] }[] = [{ from: 0, children: [] }];
  // Set from inside the listener, where the checker cannot follow it.
  const found = { usable: true };
  const listener = (event: 'open' | 'close', state: State): void => {
    if (event === 'open') {
      stack.push({ from: state.position, children: [] });
      return;
    }
    const frame = stack.pop()!;
    const kind = (state.kind as Node['kind'] | undefined) ?? null;
    const result: unknown = state.result;
    // js-yaml reads a list item or a value as a possible key first, then as itself: one node in
    // another, with one result. Kept once.
    const only = frame.children.length === 1 ? frame.children[0]! : undefined;
    if (only && only.kind === kind && Object.is(only.value, result)) {
      stack.at(-1)!.children.push(only);
      return;
    }
    let start: number;
    let end = state.position;
    if (kind === null) {
      // Empty (`key:` and nothing): where the value would have started, on the same line, past an anchor.
      start = skipBlanks(text, frame.from);
      if (text.charCodeAt(start) === 0x26) {
        while (start < end && !isSpace(text.charCodeAt(start)) && text.charCodeAt(start) !== 0x2c && text.charCodeAt(start) !== 0x5d && text.charCodeAt(start) !== 0x7d) start++;
        start = skipBlanks(text, start);
      }
      end = start;
    } else {
      start = contentStart(text, frame.from, end);
      while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
      const first = text.charCodeAt(start);
      // A block scalar's range ends with its last line's line break, as yaml's does.
      if (kind === 'scalar' && (first === 0x7c || first === 0x3e)) {
        const eol = text.indexOf('\n', end);
        // One without content, only blank lines: where yaml ends it is not worth following.
        if (eol === -1 || text.indexOf('\n', start) === eol) found.usable = false;
        end = eol === -1 ? text.length : eol + 1;
      }
      if (kind === 'sequence' && first === 0x5b && frame.children.some((c) => followedByColon(text, c.end - shift))) found.usable = false;
    }
    if (kind === 'mapping') {
      for (let i = 0; i < frame.children.length; i++) {
        const key = frame.children[i]!;
        key.hasValue = followedByColon(text, key.end - shift) || text.charCodeAt(start) !== 0x7b;
        if (key.hasValue) i++;
      }
    }
    // An empty node is a null scalar to yaml.
    stack.at(-1)!.children.push({ start: start + shift, end: end + shift, scalar: kind === 'scalar' || kind === null, kind, value: result, children: frame.children });
  };
  try {
    load(text, { schema: QUICK_SCHEMA, listener });
  } catch {
    return undefined;
  }
  const root = stack[0]!.children[0];
  return found.usable && root ? new PositionIndex(root, source) : undefined;
}
