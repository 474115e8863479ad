import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { learningsForStage } from '../../src/learnings/for-stage.js';
import type { Learning } from '../../src/learnings/learning.js';
import { includedKey, LEARNINGS_TOKEN_CAP, learningsUseOf, selectLearnings } from '../../src/learnings/select.js';
import { freshnessOf, hashWorkspaceFile } from '../../src/learnings/staleness.js';
import { formatLearning } from '../../src/learnings/front-matter.js';
import { tempWorkspace } from '../support/pipeline-builder.js';

const fresh = () => ({ stale: false, changed: [] });

function learning(title: string, over: Partial<Learning> = {}): Learning {
  return { title, tags: [], files: [], created: '2026-12-01T00:00:00.000Z', body: `about ${title}`, at: `docs/learnings/${title}.md`, ...over };
}

describe('which learnings a stage reads', () => {
  const use = { tags: ['parser'], max: 5, includeStale: false };

  it('those with a matching tag or a file its globs reach, most relevant first, then newest, then by title', () => {
    const all = [
      learning('old-tag', { tags: ['Parser'], created: '2026-01-01T00:00:00.000Z' }),
      learning('new-tag', { tags: ['parser'], created: '2026-06-01T00:00:00.000Z' }),
      learning('updated-tag', { tags: ['parser'], created: '2025-01-01T00:00:00.000Z', updated: '2026-07-01T00:00:00.000Z' }),
      learning('tag-and-file', { tags: ['parser'], files: [{ path: 'src/a.ts', sha256: 'x' }], created: '2020-01-01T00:00:00.000Z' }),
      learning('b-file', { files: [{ path: 'src/b.ts', sha256: 'x' }] }),
      learning('a-file', { files: [{ path: 'src/b.ts', sha256: 'x' }] }),
      learning('unrelated', { tags: ['ui'], files: [{ path: 'web/x.ts', sha256: 'x' }] }),
    ];
    const got = selectLearnings(all, use, ['src/**'], fresh).map((i) => i.learning.title);
    expect(got).toEqual(['tag-and-file', 'a-file', 'b-file', 'updated-tag', 'new-tag']);
    expect(selectLearnings(all, { ...use, max: 2 }, ['src/**'], fresh).map((i) => i.learning.title)).toEqual(['tag-and-file', 'a-file']);
  });

  it('within the token cap: one that does not fit is passed over, a smaller one after it still goes in', () => {
    const big = learning('big', { tags: ['parser'], body: 'x'.repeat(LEARNINGS_TOKEN_CAP * 4), created: '2026-12-02T00:00:00.000Z' });
    const small = learning('small', { tags: ['parser'] });
    expect(selectLearnings([big, small], use, [], fresh).map((i) => i.learning.title)).toEqual(['small']);
  });

  it('stale ones only with include_stale, and then marked', () => {
    const all = [learning('stale', { tags: ['parser'] }), learning('ok', { tags: ['parser'] })];
    const judge = (l: Learning) => (l.title === 'stale' ? { stale: true, changed: ['src/a.ts'] } : fresh());
    expect(selectLearnings(all, use, [], judge).map((i) => i.learning.title)).toEqual(['ok']);
    const withStale = selectLearnings(all, { ...use, includeStale: true }, [], judge);
    expect(withStale.map((i) => [i.learning.title, i.freshness.stale])).toEqual([['ok', false], ['stale', true]]);
    // Freshness is part of what a reading stage's fingerprint holds.
    expect(includedKey(withStale)).not.toBe(includedKey(withStale.map((i) => ({ ...i, freshness: fresh() }))));
  });

  it('`learnings: true` and the object form', () => {
    expect(learningsUseOf(true)).toEqual({ tags: [], max: 5, includeStale: false });
    expect(learningsUseOf({ tags: ['a'], max: 2, include_stale: true })).toEqual({ tags: ['a'], max: 2, includeStale: true });
    expect(learningsUseOf(false)).toBeUndefined();
  });
});

describe('staleness', () => {
  it('a learning is stale when a file it names changed or is gone, fresh while all keep their hash', () => {
    const ws = tempWorkspace('factory-learnings-');
    writeFileSync(path.join(ws, 'a.ts'), 'one');
    writeFileSync(path.join(ws, 'b.ts'), 'two');
    const l = { files: [{ path: 'a.ts', sha256: hashWorkspaceFile(ws, 'a.ts')! }, { path: 'b.ts', sha256: hashWorkspaceFile(ws, 'b.ts')! }] };
    expect(freshnessOf(l, ws)).toEqual({ stale: false, changed: [] });
    writeFileSync(path.join(ws, 'a.ts'), 'one, edited');
    rmSync(path.join(ws, 'b.ts'));
    expect(freshnessOf(l, ws)).toEqual({ stale: true, changed: ['a.ts', 'b.ts'] });
    // A hand-written learning naming a file outside the workspace is never fresh.
    expect(hashWorkspaceFile(ws, '../outside')).toBeUndefined();
  });

  it('learningsForStage reads the folder, leaves out broken files with a warning and stale learnings', () => {
    const ws = tempWorkspace('factory-learnings-');
    mkdirSync(path.join(ws, 'notes'));
    writeFileSync(path.join(ws, 'a.ts'), 'one');
    const sha256 = hashWorkspaceFile(ws, 'a.ts')!;
    writeFileSync(path.join(ws, 'notes/fresh.md'), formatLearning({ ...learning('fresh'), files: [{ path: 'a.ts', sha256 }] }));
    writeFileSync(path.join(ws, 'notes/stale.md'), formatLearning({ ...learning('stale'), files: [{ path: 'a.ts', sha256: 'b'.repeat(64) }] }));
    writeFileSync(path.join(ws, 'notes/broken.md'), '---\ntitle: [\n---\n');
    const got = learningsForStage(ws, 'notes', { tags: [], max: 5, includeStale: false }, { context: ['*.ts'] });
    expect(got.included.map((i) => i.learning.title)).toEqual(['fresh']);
    expect(got.warnings.map((w) => w.file)).toEqual(['notes/broken.md']);
  });
});
