import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { confine, describeFsError, isBinary, statOrUndefined } from './fs-util.js';
import { fail, ok, type ToolSpec } from './types.js';

/** Bytes of a file returned to the model; the rest is cut with a note. */
export const MAX_READ_BYTES = 256 * 1024;

export const readFileTool: ToolSpec = {
  name: 'read_file',
  description: 'Read a text file of the workspace. The path is relative to the workspace root.',
  input_schema: {
    type: 'object',
    properties: { path: { type: 'string', description: 'File path relative to the workspace root, e.g. "src/index.ts".' } },
    required: ['path'],
    additionalProperties: false,
  },
  async run(input, ctx) {
    const target = confine(ctx, input.path, 'read');
    if (!target.ok) return fail(target.message);
    const pre = statOrUndefined(target.abs);
    if (pre && !pre.isFile() && !pre.isDirectory()) return fail(`"${target.requested}" is not a regular file`);
    let fd: number | undefined;
    try {
      fd = openSync(target.abs, constants.O_RDONLY | constants.O_NONBLOCK);
      const st = fstatSync(fd);
      if (st.isDirectory()) return fail(describeFsError({ code: 'EISDIR' }, target.requested));
      if (!st.isFile()) return fail(`"${target.requested}" is not a regular file`);
      const size = st.size;
      const buf = Buffer.alloc(Math.min(size, MAX_READ_BYTES));
      let read = 0;
      while (read < buf.length) {
        const n = readSync(fd, buf, read, buf.length - read, read);
        if (n === 0) break;
        read += n;
      }
      const data = buf.subarray(0, read);
      if (isBinary(data)) return fail(`"${target.requested}" is a binary file (${size} bytes); it cannot be shown as text`);
      if (size === 0) return ok('(the file is empty)');
      const text = data.toString('utf8');
      if (size <= MAX_READ_BYTES) return ok(text);
      return ok(`${text}\n… [file truncated: showing the first ${MAX_READ_BYTES} of ${size} bytes; use search to find later lines]`);
    } catch (err) {
      return fail(describeFsError(err, target.requested));
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  },
};
