import picomatch from 'picomatch';
import { confine, describeFsError, statOrUndefined } from './fs-util.js';
import { fail, ok, type ToolSpec } from './types.js';
import { MAX_WALK_ENTRIES, walk } from './walk.js';

/** Paths returned to the model; the rest is counted in a note. */
export const MAX_LIST_LINES = 1000;

export const listFilesTool: ToolSpec = {
  name: 'list_files',
  description:
    'List the files of the workspace (or of one folder, recursively), one workspace-relative path a line, sorted. Denied paths and node_modules are left out; linked folders end with "/". `pattern` is a glob such as "**/*.ts" or "*.md" (without "/" it matches file names).',
  input_schema: {
    type: 'object',
    properties: {
      path: { type: 'string', description: 'Folder to list, relative to the workspace root. Default: the whole workspace.' },
      pattern: { type: 'string', description: 'Glob the paths must match, relative to `path`, e.g. "src/**/*.ts".' },
    },
    required: [],
    additionalProperties: false,
  },
  async run(input, ctx) {
    const requested = input.path === undefined || input.path.trim() === '' ? '.' : input.path;
    const target = confine(ctx, requested, 'list');
    if (!target.ok) return fail(target.message);
    const st = statOrUndefined(target.abs);
    if (!st) return fail(describeFsError({ code: 'ENOENT' }, target.requested));
    let match: ((rel: string, inner: string) => boolean) | undefined;
    if (input.pattern !== undefined && input.pattern.trim() !== '') {
      const glob = input.pattern.trim().replace(/^\.\//, '');
      let test: (p: string) => boolean;
      try {
        test = picomatch(glob, { dot: true, windows: false, basename: !glob.includes('/') });
      } catch (err) {
        return fail(`pattern ${JSON.stringify(input.pattern)} is not a valid glob: ${(err as Error).message}`);
      }
      match = (rel, inner) => test(inner) || test(rel);
    }
    if (st.isFile()) return ok(match && !match(target.rel, target.rel.split('/').at(-1)!) ? 'no files match' : target.rel);
    if (!st.isDirectory()) return fail(`"${target.requested}" is neither a file nor a folder`);

    const prefix = target.rel === '' ? '' : `${target.rel}/`;
    const lines: string[] = [];
    const result = walk(ctx, target.abs, target.rel, (entry) => {
      if (match && !match(entry.rel, entry.rel.slice(prefix.length))) return;
      lines.push(entry.kind === 'dir-link' ? `${entry.rel}/` : entry.rel);
    });
    lines.sort();
    const notes: string[] = [];
    if (result.truncated) notes.push(`[listing stopped after looking at ${MAX_WALK_ENTRIES} entries; give a narrower path]`);
    if (lines.length > MAX_LIST_LINES) {
      notes.push(`[… ${lines.length - MAX_LIST_LINES} more paths not shown; narrow with path or pattern]`);
      lines.length = MAX_LIST_LINES;
    }
    if (lines.length === 0) return ok(match ? 'no files match' : 'no files');
    return ok([...lines, ...notes].join('\n'));
  },
};
