import { confine, describeFsError, statOrUndefined, writeAtomic } from './fs-util.js';
import { fail, ok, type ToolSpec } from './types.js';

export const writeFileTool: ToolSpec = {
  name: 'write_file',
  description:
    'Create a file or replace its whole content, making parent folders as needed. The path is relative to the workspace root.',
  input_schema: {
    type: 'object',
    properties: {
      path: { type: 'string', description: 'File path relative to the workspace root.' },
      content: { type: 'string', description: 'The complete new content of the file.' },
    },
    required: ['path', 'content'],
    additionalProperties: false,
  },
  async run(input, ctx) {
    const target = confine(ctx, input.path, 'write');
    if (!target.ok) return fail(target.message);
    const content = input.content ?? '';
    const before = statOrUndefined(target.abs);
    if (before?.isDirectory()) return fail(describeFsError({ code: 'EISDIR' }, target.requested));
    if (before && !before.isFile()) return fail(`"${target.requested}" is not a regular file`);
    try {
      writeAtomic(target.abs, content, before ? Number(before.mode) : undefined);
    } catch (err) {
      return fail(describeFsError(err, target.requested));
    }
    ctx.changes.record(target.rel, before ? 'modified' : 'created');
    const bytes = Buffer.byteLength(content);
    return ok(`${before ? 'replaced' : 'created'} ${target.requested} (${bytes} bytes)`);
  },
};
