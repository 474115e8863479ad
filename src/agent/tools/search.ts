import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import vm from 'node:vm';
import { confine, describeFsError, isBinary, statOrUndefined } from './fs-util.js';
import { fail, ok, type ToolSpec } from './types.js';
import { walk, type WalkEntry } from './walk.js';

/** Matching lines returned to the model. */
export const MAX_SEARCH_LINES = 200;
/** Files larger than this are skipped. */
export const MAX_SEARCH_FILE_BYTES = 2 * 1024 * 1024;
/** Characters of a matching line shown. */
const MAX_LINE_CHARS = 300;
/** Characters of a line the regex is run on: keeps a pathological regex on a minified file bounded. */
const MAX_TESTED_CHARS = 10_000;
/** The default time limit of one search: a catastrophically backtracking regex is stopped, not waited for. */
export const SEARCH_TIME_LIMIT_MS = 10_000;

/**
 * The matching runs inside a vm context with a timeout, because the regex comes from the model
 * and V8 can only interrupt a runaway regex through the vm timeout (or a worker).
 */
const MATCH_LINES = new vm.Script(`
  (() => {
    const found = [];
    for (let f = 0; f < texts.length && found.length < limit; f++) {
      const lines = texts[f].split('\\n');
      for (let i = 0; i < lines.length && found.length < limit; i++) {
        let line = lines[i];
        if (line.endsWith('\\r')) line = line.slice(0, -1);
        if (re.test(line.length > maxTested ? line.slice(0, maxTested) : line)) found.push(f, i);
      }
    }
    return found;
  })()
`);

/** Text handed to one vm call: batching keeps the per-call timeout machinery off the per-file path. */
const BATCH_BYTES = 1024 * 1024;

export const searchTool: ToolSpec = {
  name: 'search',
  description:
    'Search the workspace\'s text files for a JavaScript regular expression, line by line. Returns "path:line: text" lines (capped). Binary, very large and denied files, and node_modules, are skipped.',
  input_schema: {
    type: 'object',
    properties: {
      pattern: { type: 'string', description: 'A JavaScript regular expression (no slashes or flags), e.g. "function\\\\s+parse".' },
      path: { type: 'string', description: 'File or folder to search, relative to the workspace root. Default: the whole workspace.' },
    },
    required: ['pattern'],
    additionalProperties: false,
  },
  async run(input, ctx) {
    const pattern = input.pattern ?? '';
    if (pattern === '') return fail('pattern is empty; give a regular expression');
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch (err) {
      return fail(`pattern ${JSON.stringify(pattern)} is not a valid regular expression: ${(err as Error).message}`);
    }
    const requested = input.path === undefined || input.path.trim() === '' ? '.' : input.path;
    const target = confine(ctx, requested, 'read');
    if (!target.ok) return fail(target.message);
    const st = statOrUndefined(target.abs);
    if (!st) return fail(describeFsError({ code: 'ENOENT' }, target.requested));

    const files: WalkEntry[] = [];
    let truncatedWalk = false;
    if (st.isFile()) files.push({ rel: target.rel, abs: target.abs, kind: 'file' });
    else if (st.isDirectory()) {
      const walked = walk(ctx, target.abs, target.rel, () => {});
      truncatedWalk = walked.truncated;
      files.push(...walked.entries.filter((e) => e.kind === 'file'));
    } else return fail(`"${target.requested}" is neither a file nor a folder`);

    const context = vm.createContext({ re, texts: [] as string[], limit: 0, maxTested: MAX_TESTED_CHARS });
    const deadline = Date.now() + ctx.searchTimeLimitMs;
    const out: string[] = [];
    let searched = 0;
    let skipped = 0;
    const batch: { rel: string; text: string }[] = [];
    let batchBytes = 0;
    const flush = (): string | undefined => {
      if (batch.length === 0) return undefined;
      context.texts = batch.map((b) => b.text);
      context.limit = 2 * (MAX_SEARCH_LINES + 1 - out.length);
      let found: number[];
      try {
        found = MATCH_LINES.runInContext(context, { timeout: Math.max(1, deadline - Date.now()) }) as number[];
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
          return `search gave up after ${ctx.searchTimeLimitMs / 1000}s: the regular expression is too slow (nested quantifiers backtrack); simplify it or narrow the path`;
        }
        return `search failed: ${(err as Error).message}`;
      }
      for (let k = 0; k + 1 < found.length; k += 2) {
        const file = batch[found[k]!]!;
        const index = found[k + 1]!;
        let line = (file.text.split('\n')[index] ?? '').replace(/\r$/, '').trim();
        if (line.length > MAX_LINE_CHARS) line = `${line.slice(0, MAX_LINE_CHARS)}…`;
        out.push(`${file.rel}:${index + 1}: ${line}`);
      }
      batch.length = 0;
      batchBytes = 0;
      return undefined;
    };
    for (const file of files) {
      if (out.length > MAX_SEARCH_LINES || ctx.signal.aborted) break;
      const data = readSmallText(file.abs);
      if (data === undefined) {
        skipped++;
        continue;
      }
      searched++;
      batch.push({ rel: file.rel, text: data });
      batchBytes += data.length;
      if (batchBytes >= BATCH_BYTES) {
        const problem = flush();
        if (problem) return fail(problem);
      }
    }
    const problem = flush();
    if (problem) return fail(problem);
    const notes: string[] = [];
    if (out.length > MAX_SEARCH_LINES) {
      out.length = MAX_SEARCH_LINES;
      notes.push(`[… more matches not shown (first ${MAX_SEARCH_LINES}); narrow with path or a more specific pattern]`);
    }
    if (truncatedWalk) notes.push('[the workspace is large: not every file was searched; give a path]');
    if (skipped > 0) notes.push(`[${skipped} binary, unreadable or large file${skipped === 1 ? '' : 's'} skipped]`);
    if (out.length === 0) return ok([`no matches in ${searched} file${searched === 1 ? '' : 's'}`, ...notes].join('\n'));
    return ok([...out, ...notes].join('\n'));
  },
};

/** A file's text, or undefined when it is binary, too large or unreadable. */
function readSmallText(abs: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_SEARCH_FILE_BYTES) return undefined;
    const buf = Buffer.alloc(st.size);
    let read = 0;
    while (read < buf.length) {
      const n = readSync(fd, buf, read, buf.length - read, read);
      if (n === 0) break;
      read += n;
    }
    const data = buf.subarray(0, read);
    return isBinary(data) ? undefined : data.toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
