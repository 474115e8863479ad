import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { requireBuild } from '../support/cli.js';
import { tempWorkspace } from '../support/pipeline-builder.js';

beforeAll(requireBuild);

/** The built src/base/io.ts: a child process has no TypeScript loader. */
const IO = pathToFileURL(path.resolve(import.meta.dirname, '../../dist/base/io.js')).href;

/** A node process that writes through the real process's io, its stdout a pipe or a file. */
function child(script: string, stdout: 'pipe' | number) {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', `import { processIO } from ${JSON.stringify(IO)};\nconst io = processIO();\n${script}`], { stdio: ['ignore', stdout, 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => proc.on('close', (code) => resolve({ code, stderr })));
  return { proc, done };
}

describe('the process io (written straight to a file or pipe)', () => {
  test('to a file: every write, in order, multi-byte text whole', async () => {
    const file = path.join(tempWorkspace('factory-io-'), 'out.txt');
    const { done } = child("for (let i = 0; i < 500; i++) io.stdout.write(`${i} ✓ ünïcode\\n`);", openSync(file, 'w'));
    expect(await done).toEqual({ code: 0, stderr: '' });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(500);
    expect(lines[499]).toBe('499 ✓ ünïcode');
  });

  test('a reader that goes away (`factory schema | head -1`): the rest is dropped, without an error', async () => {
    const { proc, done } = child("for (let i = 0; i < 5000; i++) io.stdout.write('x'.repeat(999) + '\\n');\nio.stderr.write('finished\\n');", 'pipe');
    proc.stdout!.once('data', () => proc.stdout!.destroy());
    expect(await done).toEqual({ code: 0, stderr: 'finished\n' });
  });

  test('a reader that stops reading, then goes away: the writes it left waiting are dropped, without an error', async () => {
    const { proc, done } = child("for (let i = 0; i < 5000; i++) io.stdout.write('x'.repeat(999) + '\\n');\nio.stderr.write('finished\\n');", 'pipe');
    proc.stdout!.pause();
    setTimeout(() => proc.stdout!.destroy(), 300);
    expect(await done).toEqual({ code: 0, stderr: 'finished\n' });
  });

  test('a reader slower than the writer (a full pipe): everything arrives, in order; then it goes away, quietly', async () => {
    const { proc, done } = child("for (let i = 0; i < 2000; i++) io.stdout.write(`${i} ${'x'.repeat(200)}\\n`);\nio.stderr.write('finished\\n');", 'pipe');
    proc.stdout!.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    let text = '';
    proc.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    proc.stdout!.resume();
    expect(await done).toEqual({ code: 0, stderr: 'finished\n' });
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(2000);
    expect(lines.every((l, i) => l.startsWith(`${i} `))).toBe(true);
  });
});
