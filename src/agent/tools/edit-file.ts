import { readFileSync } from 'node:fs';
import { confine, describeFsError, isBinary, statOrUndefined, writeAtomic } from './fs-util.js';
import { fail, ok, type ToolSpec } from './types.js';

export const editFileTool: ToolSpec = {
  name: 'edit_file',
  description:
    'Replace one exact occurrence of `old` with `new` in a file. `old` must occur exactly once (include surrounding lines to make it unique); whitespace and line breaks must match exactly.',
  input_schema: {
    type: 'object',
    properties: {
      path: { type: 'string', description: 'File path relative to the workspace root.' },
      old: { type: 'string', description: 'The exact text to replace; it must occur exactly once in the file.' },
      new: { type: 'string', description: 'The replacement text.' },
    },
    required: ['path', 'old', 'new'],
    additionalProperties: false,
  },
  async run(input, ctx) {
    const target = confine(ctx, input.path, 'write');
    if (!target.ok) return fail(target.message);
    const old = input.old ?? '';
    const replacement = input.new ?? '';
    if (old === '') return fail('"old" is empty; give the exact text to replace (use write_file to create a file)');
    const st = statOrUndefined(target.abs);
    if (st?.isDirectory()) return fail(describeFsError({ code: 'EISDIR' }, target.requested));
    if (st && !st.isFile()) return fail(`"${target.requested}" is not a regular file`);
    let buf: Buffer;
    try {
      buf = readFileSync(target.abs);
    } catch (err) {
      return fail(describeFsError(err, target.requested));
    }
    if (isBinary(buf)) return fail(`"${target.requested}" is a binary file; it cannot be edited as text`);
    const text = buf.toString('utf8');
    const positions = occurrences(text, old);
    if (positions.length === 0) {
      const hint = text.includes('\r\n') && !old.includes('\r\n') && occurrences(text, old.replace(/\n/g, '\r\n')).length > 0
        ? ' (the file uses CRLF line endings; include \\r\\n in "old")'
        : '';
      return fail(`"old" was not found in ${target.requested}: 0 occurrences${hint}. Read the file and copy the text exactly.`);
    }
    if (positions.length > 1) {
      const lines = positions.slice(0, 10).map((p) => lineOf(text, p));
      return fail(
        `"old" occurs ${positions.length} times in ${target.requested} (lines ${lines.join(', ')}${positions.length > 10 ? ', …' : ''}); it must occur exactly once — include more surrounding text`,
      );
    }
    const at = positions[0]!;
    const updated = text.slice(0, at) + replacement + text.slice(at + old.length);
    try {
      writeAtomic(target.abs, updated, st ? Number(st.mode) : undefined);
    } catch (err) {
      return fail(describeFsError(err, target.requested));
    }
    if (updated !== text) ctx.changes.record(target.rel, 'modified');
    return ok(`edited ${target.requested}: replaced 1 occurrence at line ${lineOf(text, at)}`);
  },
};

/** Start offsets of every occurrence, overlapping ones included: "exactly one" must mean one place. */
function occurrences(text: string, needle: string): number[] {
  const found: number[] = [];
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + 1)) found.push(i);
  return found;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
