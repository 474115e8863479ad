import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ToolUse, TranscriptItem } from '../../src/view/model.js';
import { stageDiff } from '../../src/view/stage-diff.js';
import { tempWorkspace } from '../support/pipeline-builder.js';

const turn = (...tools: Omit<ToolUse, 'id' | 'result'>[]): TranscriptItem => ({
  type: 'turn',
  call: 1,
  text: [],
  tools: tools.map((t, i) => ({ ...t, id: String(i), result: { content: 'ok', is_error: false } })),
  stop_reason: 'tool_use',
  refusal: false,
  usage: null,
  cost_usd: null,
});

describe('stageDiff', () => {
  it('rebuilds the diff from the agent’s file tools: a new file, a rewrite of it, an edit', () => {
    const diff = stageDiff(tempWorkspace(), 'build', [
      turn({ name: 'write_file', input: { path: 'a.txt', content: 'one\ntwo\nthree\n' } }),
      turn({ name: 'write_file', input: { path: 'a.txt', content: 'one\n2\nthree\n' } }, { name: 'edit_file', input: { path: 'b.txt', old: 'x', new: 'y' } }),
    ]);
    expect(diff?.source).toBe('tool calls');
    expect(diff?.files).toEqual([
      { path: 'a.txt', lines: ['@@ write_file (new content) @@', '+one', '+two', '+three', '@@ -1 +1 @@', ' one', '-two', '+2', ' three'] },
      { path: 'b.txt', lines: ['@@ edit_file @@', '-x', '+y'] },
    ]);
  });

  it('leaves out tool calls that failed, and says there is no diff when nothing was written', () => {
    const failed: TranscriptItem = { ...turn({ name: 'write_file', input: { path: 'a.txt', content: 'x' } }) } as TranscriptItem & { type: 'turn' };
    if (failed.type === 'turn') failed.tools[0]!.result = { content: 'refused', is_error: true };
    expect(stageDiff(tempWorkspace(), 'build', [failed, turn({ name: 'read_file', input: { path: 'a.txt' } })])).toBeNull();
  });

  it('prefers the run’s patch of the stage, file by file', () => {
    const run = tempWorkspace();
    mkdirSync(path.join(run, 'changes'));
    writeFileSync(path.join(run, 'changes', 'build.patch'), 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-x\n+y\n');
    expect(stageDiff(run, 'build', [turn({ name: 'write_file', input: { path: 'z', content: 'z' } })])).toEqual({
      source: 'patch',
      files: [{ path: 'a.txt', lines: ['--- a/a.txt', '+++ b/a.txt', '@@ -1 +1 @@', '-x', '+y'] }],
    });
  });
});
