import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Document, LineCounter, isAlias, isCollection, isMap, isPair, isScalar, isSeq, parseAllDocuments, parseDocument, visit } from './yaml-lazy.js';
import type { Node as YamlNode } from 'yaml';
import { diagnostic, NO_POSITION, type Diagnostic, type Position } from '../diagnostics.js';
import { quickYamlValue } from './quick-yaml.js';
import { indexPositions, type NodeRange, type PathNodes, type PositionIndex } from './positions.js';

export const MAX_FILE_BYTES = 1024 * 1024;
/** Aliases that would expand past this many nodes are refused (billion laughs). */
export const MAX_EXPANDED_NODES = 10_000;

/** A YAML file read with positions: every value can be traced back to its line and column. */
export interface LoadedFile {
  /** The path as it should be shown to the user. */
  file: string;
  /** Absolute path. */
  absPath: string;
  text: string;
  /** The `yaml` document, for positions. */
  yaml: YamlSource;
  /** The plain JavaScript value of the document. */
  value: unknown;
  /**
   * Set on a pipeline merged from templates: which file each part of `value` came from, so
   * positions (and so diagnostics) point into the template that wrote it.
   */
  origins?: Origin[];
}

/** yaml's options: its own uniqueKeys check is replaced by findDuplicateKeys (see parseYamlText). */
const YAML_OPTIONS = { uniqueKeys: false, prettyErrors: false, strict: true } as const;

/**
 * Where the nodes of a file sit, which positions are read from. A file read by the full reader
 * has its `yaml` document. A file whose value was read the quick way (quick-yaml.ts) has nothing
 * until a position is asked for: then js-yaml's position index (positions.ts), and `yaml`'s
 * document only for a text the index cannot place. A valid file without warnings is never asked.
 */
export class YamlSource {
  #parsed: { doc: Document.Parsed; lineCounter: LineCounter } | undefined;
  #index: PositionIndex | undefined;

  constructor(
    private readonly text: string,
    parsed?: { doc: Document.Parsed; lineCounter: LineCounter },
  ) {
    this.#parsed = parsed;
  }

  /** The key and value at a path, or its nearest ancestor when the path goes further than the file. */
  nodesAt(at: readonly PathSegment[]): PathNodes {
    if (!this.#parsed) {
      this.#index ??= indexPositions(this.text);
      if (this.#index) return this.#index.nodesAt(at);
    }
    return yamlNodesAt(this.parsed().doc, at);
  }

  linePos(offset: number): { line: number; col: number } {
    return this.#index && !this.#parsed ? this.#index.linePos(offset) : this.parsed().lineCounter.linePos(offset);
  }

  private parsed(): { doc: Document.Parsed; lineCounter: LineCounter } {
    if (!this.#parsed) {
      const lineCounter = new LineCounter();
      this.#parsed = { doc: parseDocument(this.text, { ...YAML_OPTIONS, lineCounter }), lineCounter };
    }
    return this.#parsed;
  }
}

/** nodesAt over yaml's document: aliases followed, as the value reads them. */
function yamlNodesAt(doc: Document.Parsed, at: readonly PathSegment[]): PathNodes {
  const rangeOf = (node: unknown): NodeRange | undefined => {
    const range = (node as YamlNode | null | undefined)?.range;
    return range ? { start: range[0], end: range[1], scalar: isScalar(node) } : undefined;
  };
  let node: unknown = doc.contents;
  let keyNode: unknown;
  let complete = true;
  for (const segment of at) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) {
        complete = false;
        break;
      }
      keyNode = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) {
        complete = false;
        break;
      }
      keyNode = undefined;
      node = item;
    } else {
      complete = false;
      break;
    }
  }
  const key = rangeOf(keyNode);
  const value = rangeOf(node);
  return { ...(key ? { key } : {}), ...(value ? { value } : {}), complete };
}

/** The part of the merged value under `at` was written in `loaded`, under `target`. */
export interface Origin {
  at: readonly PathSegment[];
  loaded: LoadedFile;
  target: readonly PathSegment[];
  via: readonly string[];
}

/** The origin that holds a path (longest prefix wins), with the path translated into it. */
export function originOf(loaded: Pick<LoadedFile, 'origins'>, at: readonly PathSegment[]): { origin: Origin; path: PathSegment[] } | undefined {
  let best: Origin | undefined;
  for (const o of loaded.origins ?? []) {
    if (o.at.length > at.length || !o.at.every((seg, i) => seg === at[i])) continue;
    if (!best || o.at.length > best.at.length) best = o;
  }
  return best ? { origin: best, path: [...best.target, ...at.slice(best.at.length)] } : undefined;
}

function inOrigin(pos: Position, origin: Origin): Position {
  return { ...pos, file: pos.file ?? origin.loaded.file, via: [...origin.via, ...(pos.via ?? [])] };
}

export type PathSegment = string | number;

/** A failure carries the text when it was readable, so the CLI can show the offending line. */
export type LoadResult = { ok: true; loaded: LoadedFile } | { ok: false; diagnostics: Diagnostic[]; text?: string };

export function displayPath(absPath: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, absPath);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : absPath;
}

/** A directory means the factory.yaml inside it; no argument means ./factory.yaml. */
export function resolveConfigPath(target: string | undefined, cwd = process.cwd()): { absPath: string } | { error: Diagnostic } {
  const given = path.resolve(cwd, target ?? '.');
  let stat;
  try {
    stat = statSync(given);
  } catch {
    const shown = displayPath(given, cwd);
    return {
      error: diagnostic(shown, NO_POSITION, 'file-missing', `no such file or directory: ${shown}`, target === undefined
        ? 'run `factory init` to write a starter factory.yaml, or name the file: `factory validate path/to/factory.yaml`'
        : 'check the path; a directory stands for the factory.yaml inside it'),
    };
  }
  if (stat.isDirectory()) {
    const inside = path.join(given, 'factory.yaml');
    try {
      if (statSync(inside).isFile()) return { absPath: inside };
    } catch {
      // fall through to the diagnostic below
    }
    const shown = displayPath(inside, cwd);
    return { error: diagnostic(shown, NO_POSITION, 'file-missing', `${displayPath(given, cwd) || '.'} has no factory.yaml`, 'run `factory init` there, or name the file to use') };
  }
  return { absPath: given };
}

export function loadYamlFile(absPath: string, cwd = process.cwd()): LoadResult {
  const file = displayPath(absPath, cwd);
  const fail = (code: string, message: string, hint?: string, pos: Position = NO_POSITION): LoadResult => ({
    ok: false,
    diagnostics: [diagnostic(file, pos, code, message, hint)],
  });
  let size: number;
  try {
    const stat = statSync(absPath);
    if (stat.isDirectory()) return fail('file-is-directory', `${file} is a directory, not a YAML file`);
    size = stat.size;
  } catch {
    return fail('file-missing', `no such file: ${file}`, 'check the path');
  }
  if (size > MAX_FILE_BYTES) {
    return fail('file-too-large', `${file} is ${(size / 1024 / 1024).toFixed(1)} MiB; the limit is 1 MiB`, 'split the pipeline into templates (extends / uses), or move large text into files read with prompt_file or context');
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(absPath);
  } catch (err) {
    return fail('file-unreadable', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const decoded = decodeText(bytes);
  if (!decoded.ok) return fail(decoded.code, `${file} ${decoded.message}`, 'a factory file must be UTF-8 text', decoded.pos);
  const parsed = parseYamlText(decoded.text, file, absPath);
  return parsed.ok ? parsed : { ...parsed, text: decoded.text };
}

function decodeText(bytes: Buffer): { ok: true; text: string } | { ok: false; code: string; message: string; pos: Position } {
  const nul = bytes.indexOf(0);
  if (nul !== -1) return { ok: false, code: 'file-binary', message: `looks binary (a NUL byte at offset ${nul})`, pos: bytePosition(bytes, nul) };
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    return { ok: true, text };
  } catch {
    const at = firstInvalidUtf8(bytes);
    return { ok: false, code: 'file-not-utf8', message: `is not valid UTF-8 (first bad byte at offset ${at})`, pos: bytePosition(bytes, at) };
  }
}

/**
 * Where the first malformed sequence starts: decode leniently, encode again, and find the first
 * byte that differs (a malformed sequence comes back as U+FFFD, whose bytes differ from it).
 */
function firstInvalidUtf8(bytes: Buffer): number {
  const again = Buffer.from(new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes), 'utf8');
  let i = 0;
  while (i < bytes.length && i < again.length && bytes[i] === again[i]) i++;
  return i;
}

/** Line and column (in characters) of a byte offset, for files that are not valid text. */
function bytePosition(bytes: Buffer, offset: number): Position {
  const before = bytes.subarray(0, offset);
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  const column = new TextDecoder('utf-8').decode(bytes.subarray(lineStart, offset)).length + 1;
  return { line, column, length: 1 };
}

export function parseYamlText(text: string, file: string, absPath: string): LoadResult {
  const quick = quickYamlValue(text);
  if (quick !== undefined) return { ok: true, loaded: { file, absPath, text, yaml: new YamlSource(text), value: quick } };
  const lineCounter = new LineCounter();
  // yaml's own uniqueKeys check compares every pair of keys in a map (quadratic on a 10,000-stage
  // file); findDuplicateKeys below does the same job with a set per map.
  const docs = parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter });
  const at = (offset: number, length = 1): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col, length };
  };
  if (!Array.isArray(docs)) {
    // An empty stream yields an EmptyStream object rather than an array.
    return { ok: false, diagnostics: [diagnostic(file, { line: 1, column: 1, length: 1 }, 'file-empty', `${file} is empty`, 'start with `version: 1` and a `stages:` map, or run `factory init`')] };
  }
  if (docs.length > 1) {
    const second = docs[1]!;
    return { ok: false, diagnostics: [diagnostic(file, at(second.range[0], 3), 'yaml-multiple-documents', `${file} holds ${docs.length} YAML documents; a factory file holds exactly one`, 'remove the `---` separator and merge the documents, or move the others into their own files')] };
  }
  const doc = docs[0];
  if (!doc) {
    return { ok: false, diagnostics: [diagnostic(file, { line: 1, column: 1, length: 1 }, 'file-empty', `${file} is empty`, 'start with `version: 1` and a `stages:` map, or run `factory init`')] };
  }
  // Only the first syntax error is reported: the parser's later ones follow from it.
  const errors = doc.errors.slice(0, 1).map((e) => {
    const [start, end] = e.pos;
    const message = firstLine(e.message);
    const opener = unclosedOpener(text, start, message);
    if (opener) return diagnostic(file, at(opener.offset, 1), 'yaml-syntax', opener.message, opener.hint);
    return diagnostic(file, at(start, Math.max(1, Math.min(end - start, 80))), 'yaml-syntax', message, indentSlipHint(text, start) ?? yamlHint(e.code));
  });
  errors.push(...findUnresolvedAliases(doc).map(({ offset, length, name }) =>
    diagnostic(file, at(offset, length), 'yaml-unknown-alias', `the alias *${name} refers to no anchor "${name}"`, `define the anchor \`&${name}\` on a value before this alias, or write the value out`)));
  errors.push(...findDuplicateKeys(doc).map(({ offset, length, key }) =>
    diagnostic(file, at(offset, length), 'yaml-duplicate-key', `duplicate key "${key}" in this map`, 'each key may appear once in a map: remove or rename one of them')));
  if (errors.length > 0) return { ok: false, diagnostics: errors };
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return { ok: false, diagnostics: [diagnostic(file, { line: 1, column: 1, length: 1 }, 'file-empty', `${file} holds no configuration`, 'start with `version: 1` and a `stages:` map, or run `factory init`')] };
  }
  const bomb = findAliasBomb(doc);
  if (bomb) {
    return { ok: false, diagnostics: [diagnostic(file, at(bomb.offset, bomb.length), 'yaml-alias-bomb', `aliases here would expand past ${MAX_EXPANDED_NODES.toLocaleString('en-US')} nodes`, 'write the values out, or use a template (extends) instead of deeply nested aliases')] };
  }
  if (!isMap(doc.contents)) {
    const range = (doc.contents as YamlNode).range;
    return { ok: false, diagnostics: [diagnostic(file, at(range?.[0] ?? 0), 'top-not-map', `the top level of ${file} must be a map of keys (version, stages, ...), not ${describeNode(doc.contents as YamlNode)}`, 'start with `version: 1` followed by `stages:`')] };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: -1 });
  } catch (err) {
    return { ok: false, diagnostics: [diagnostic(file, { line: 1, column: 1, length: 1 }, 'yaml-invalid', `${file} cannot be read as data: ${firstLine((err as Error).message)}`)] };
  }
  return { ok: true, loaded: { file, absPath, text, yaml: new YamlSource(text, { doc, lineCounter }), value } };
}

function findUnresolvedAliases(doc: Document.Parsed): { offset: number; length: number; name: string }[] {
  const found: { offset: number; length: number; name: string }[] = [];
  visit(doc, {
    Alias(_key, alias) {
      if (!alias.resolve(doc)) found.push({ offset: alias.range?.[0] ?? 0, length: alias.source.length + 1, name: alias.source });
    },
  });
  return found;
}

/**
 * The parser notices an unclosed quote or bracket only where the file (or the flow) ends; the
 * mistake is where it was opened. Scan up to the error for what is still open.
 */
function unclosedOpener(text: string, errorOffset: number, message: string): { offset: number; message: string; hint: string } | undefined {
  const quote = /Missing closing ("|')quote/.exec(message);
  const flow = /end with a ([\]}])/.exec(message);
  if (!quote && !flow) return undefined;
  const open = scanOpen(text, Math.min(errorOffset, text.length));
  if (quote && open.quote !== undefined) {
    return { offset: open.quote, message: `this ${quote[1] === '"' ? 'double' : 'single'}-quoted string is never closed`, hint: `add the closing ${quote[1]} at the end of the value` };
  }
  if (flow) {
    const opener = flow[1] === ']' ? '[' : '{';
    const offset = [...open.brackets].reverse().find((b) => text[b] === opener);
    if (offset !== undefined) return { offset, message: `this \`${opener}\` is never closed`, hint: `close it with \`${flow[1]}\` on the same line, or write the list as \`- item\` lines` };
  }
  return undefined;
}

function scanOpen(text: string, end: number): { quote?: number; brackets: number[] } {
  const brackets: number[] = [];
  let quote: { char: string; at: number } | undefined;
  for (let i = 0; i < end; i++) {
    const c = text[i]!;
    if (quote) {
      if (quote.char === '"' && c === '\\') i++;
      else if (c === quote.char) {
        if (quote.char === "'" && text[i + 1] === "'") i++;
        else quote = undefined;
      }
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i < end && text[i] !== '\n') i++;
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(text[i - 1]!))) {
      quote = { char: c, at: i };
    } else if (c === '[' || c === '{') {
      brackets.push(i);
    } else if ((c === ']' || c === '}') && brackets.length) {
      brackets.pop();
    }
  }
  return quote ? { quote: quote.at, brackets } : { brackets };
}

function findDuplicateKeys(doc: Document.Parsed): { offset: number; length: number; key: string }[] {
  const found: { offset: number; length: number; key: string }[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (seen.has(key)) {
          const range = pair.key.range;
          found.push({ offset: range?.[0] ?? 0, length: range ? range[1] - range[0] : 1, key });
        }
        seen.add(key);
      }
    },
  });
  return found;
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '').trim();
}

/**
 * A key indented deeper than the `key: value` line above it (one space too many before
 * `needs:`) reads to YAML as the continuation of that value, and its error speaks of compact
 * mappings or a missing colon: name the indentation instead.
 */
function indentSlipHint(text: string, offset: number): string | undefined {
  const lines = text.split('\n');
  const lineNo = text.slice(0, offset).split('\n').length - 1;
  const here = lines[lineNo] ?? '';
  const above = /^( *)([^\s:#][^:#]*):[ \t]+[^\s#|>].*$/.exec(here);
  if (!above) return undefined;
  let next = lineNo + 1;
  while (next < lines.length && /^\s*(#.*)?$/.test(lines[next]!)) next++;
  const slipped = /^( *)([^\s:#][^:#]*):(\s|$)/.exec(lines[next] ?? '');
  if (!slipped || slipped[1]!.length <= above[1]!.length) return undefined;
  const extra = slipped[1]!.length - above[1]!.length;
  return `check the indentation: \`${slipped[2]}:\` on line ${next + 1} is indented ${extra} space${extra === 1 ? '' : 's'} more than \`${above[2]}:\` above it; keys of one mapping start at the same column`;
}

function yamlHint(code: string): string | undefined {
  switch (code) {
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'check the indentation: nested keys are indented under their parent by the same number of spaces';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'BLOCK_AS_IMPLICIT_KEY':
      return 'a key is missing its colon, or a value spans lines without quotes';
    case 'MULTILINE_IMPLICIT_KEY':
      return 'quote the value, or use a block scalar (`|`) for text over several lines';
    case 'UNEXPECTED_TOKEN':
      return 'quote values that start with special characters such as `{`, `[`, `*`, `&`, `!`, `%`, `@` or a backtick';
    default:
      return undefined;
  }
}

function describeNode(node: YamlNode): string {
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'empty' : `a ${typeof node.value} (${JSON.stringify(node.value)})`;
  return 'a value';
}

/**
 * Adds up the nodes that alias expansion would create (each alias counts the expanded size of
 * its target), stopping at the first alias that pushes the sum past the limit. Sizes are memoised
 * per node, so a bomb is measured without being expanded.
 */
function findAliasBomb(doc: Document.Parsed): { offset: number; length: number } | undefined {
  const sizes = new Map<unknown, number>();
  const expanded = (node: unknown, depth: number): number => {
    if (depth > 500) return MAX_EXPANDED_NODES + 1; // absurd nesting is refused as well
    if (isAlias(node)) {
      const target = node.resolve(doc);
      return target ? expanded(target, depth + 1) : 1;
    }
    const memo = sizes.get(node);
    if (memo !== undefined) return memo;
    let total = 1;
    if (isCollection(node)) {
      for (const item of node.items) {
        total += isPair(item) ? expanded(item.key, depth + 1) + expanded(item.value, depth + 1) : expanded(item, depth + 1);
        if (total > MAX_EXPANDED_NODES) break;
      }
    }
    sizes.set(node, total);
    return total;
  };
  let added = 0;
  let culprit: { offset: number; length: number } | undefined;
  visit(doc, {
    Alias(_key, alias) {
      added += expanded(alias, 0);
      if (added > MAX_EXPANDED_NODES) {
        culprit = { offset: alias.range?.[0] ?? 0, length: alias.source.length + 1 };
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return culprit;
}

/**
 * The position of the value (or of its key, for unknown-key errors) at a path of the document.
 * Falls back to the nearest ancestor that exists, so a missing key points at its parent map.
 */
export function locate(loaded: Pick<LoadedFile, 'yaml' | 'origins'>, at: readonly PathSegment[], which: 'key' | 'value' = 'value'): Position {
  const from = originOf(loaded, at);
  if (from) return inOrigin(locate(from.origin.loaded, from.path, which), from.origin);
  const { key, value } = loaded.yaml.nodesAt(at);
  const target = which === 'key' && key ? key : value ?? key;
  return rangePosition(target, loaded.yaml);
}

function rangePosition(range: NodeRange | undefined, source: YamlSource): Position {
  if (!range) return { line: 1, column: 1, length: 1 };
  const start = source.linePos(range.start);
  const end = source.linePos(range.end);
  const length = end.line === start.line ? Math.max(1, end.col - start.col) : 1;
  return { line: start.line, column: start.col, length: range.scalar ? length : Math.min(length, 1) };
}

/**
 * The position of a span inside a string value (an expression inside `prompt:`, say). The span's
 * text is found in the raw source by occurrence count, which holds for every scalar style as long
 * as the span itself has no escapes; otherwise the value's own position is the answer.
 */
export function locateInString(loaded: Pick<LoadedFile, 'yaml' | 'text' | 'origins'>, at: readonly PathSegment[], value: string, offset: number, length: number): Position {
  const from = originOf(loaded, at);
  if (from) return inOrigin(locateInString(from.origin.loaded, from.path, value, offset, length), from.origin);
  const whole = locate(loaded, at);
  const needle = value.slice(offset, offset + Math.max(1, length));
  const found = loaded.yaml.nodesAt(at);
  const range = found.complete ? found.value : undefined;
  if (!range || needle === '') return whole;
  let k = 0;
  for (let i = value.indexOf(needle); i !== -1 && i < offset; i = value.indexOf(needle, i + 1)) k++;
  const raw = loaded.text.slice(range.start, range.end);
  let foundAt = -1;
  for (let i = 0, j = raw.indexOf(needle); j !== -1; j = raw.indexOf(needle, j + 1), i++) {
    if (i === k) {
      foundAt = j;
      break;
    }
  }
  if (foundAt === -1) return whole;
  const { line, col } = loaded.yaml.linePos(range.start + foundAt);
  return { line, column: col, length: Math.max(1, needle.includes('\n') ? needle.indexOf('\n') : needle.length) };
}
