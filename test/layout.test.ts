/**
 * The shape of test/: unit tests sit at their room's path (test/engine/schedule/ for
 * src/engine/schedule/), and whatever spawns the built CLI lives under test/cli/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const TEST = path.join(ROOT, 'test');
/** Folders of test/ that follow something other than src/. */
const OWN = new Set(['cli', 'browser', 'support', 'fixtures', 'docs', 'schemas']);

function folders(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => statSync(path.join(dir, name)).isDirectory())
    .flatMap((name) => [path.join(dir, name), ...folders(path.join(dir, name))]);
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts')).map((f) => path.join(dir, f));
}

describe('test/ follows src/', () => {
  test('every folder of unit tests names a folder of src/', () => {
    const stray = folders(TEST)
      .map((d) => path.relative(TEST, d))
      .filter((rel) => !OWN.has(rel.split(path.sep)[0]!))
      .filter((rel) => {
        try {
          return !statSync(path.join(ROOT, 'src', rel)).isDirectory();
        } catch {
          return true;
        }
      });
    expect(stray, 'move these under the path of the src/ folder they test, or under test/cli/ if they spawn the CLI').toEqual([]);
  });

  test('only tests under test/cli/ (and test/browser/, whose pages follow a spawned apply) spawn the built CLI', () => {
    const spawning = /import \{[^}]*\b(runBuilt|cli|start|startPty)\b[^}]*\} from '[./]*support\/cli\.js'/;
    const outside = testFiles(TEST)
      .filter((f) => !path.relative(TEST, f).startsWith(`cli${path.sep}`) && !path.relative(TEST, f).startsWith(`browser${path.sep}`))
      .filter((f) => spawning.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f));
    expect(outside, 'tests that spawn the built CLI belong under test/cli/').toEqual([]);
  });
});
