import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { factoryDir } from '../records/paths.js';

export interface Verdict {
  score: number;
  reason: string;
}

/**
 * Judge verdicts cached by the hash of (rubric, transcript, judge model) (docs/configuration.md), in
 * `.factory/cache/judge/<sha256>.json`: an unchanged outcome is never paid for twice. A cache
 * that cannot be read or written is no cache, never an error.
 */
export class JudgeCache {
  private readonly dir: string;

  constructor(workspace: string) {
    this.dir = path.join(factoryDir(workspace), 'cache', 'judge');
  }

  static key(rubric: string, transcript: string, model: string): string {
    return createHash('sha256').update(JSON.stringify({ rubric, transcript, model })).digest('hex');
  }

  get(key: string): Verdict | undefined {
    try {
      const v = JSON.parse(readFileSync(path.join(this.dir, `${key}.json`), 'utf8')) as Partial<Verdict>;
      if (typeof v.score === 'number' && typeof v.reason === 'string') return { score: v.score, reason: v.reason };
    } catch {
      // not cached
    }
    return undefined;
  }

  put(key: string, verdict: Verdict, model: string): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      const file = path.join(this.dir, `${key}.json`);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ ...verdict, model, at: new Date().toISOString() }, null, 2)}\n`);
      renameSync(tmp, file);
    } catch {
      // a cache that cannot be written is no cache
    }
  }
}
