import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { workspaceWith } from '../../support/workspace-files.js';
import { requireBuild, type Running, start } from '../../support/cli.js';

beforeAll(requireBuild);

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.kill('SIGKILL');
    await r.done;
  }
});

/** Two commands read src/ without declaring it; one declares its inputs. */
const PIPELINE = `version: 1
name: watched
watch: { paths: ["notes/**"], ignore: ["notes/tmp/**"] }
stages:
  build: { kind: command, run: cat src/a.js, inputs: ["src/**/*.js"] }
  lint: { kind: command, run: cat src/a.js }
  test: { kind: command, needs: [build], run: cat src/b.js }
`;

const FILES = { 'factory.yaml': PIPELINE, 'src/a.js': 'a\n', 'src/b.js': 'b\n', 'src/c.txt': 'not js\n', 'notes/n.md': 'n\n', 'notes/tmp/x.md': 'x\n' };

describe('apply --watch says what it watches', () => {
  test('how many files, which names and globs; and which stages declare no inputs (so editing their sources reruns nothing)', async () => {
    const dir = workspaceWith('factory-watch-msg-', FILES);
    const r = start(['apply', '--watch'], dir);
    running.push(r);
    await r.waitFor(/watching for changes \(Ctrl-C to stop\)/);
    const err = r.output();
    // factory.yaml, src/a.js, src/b.js, notes/n.md (notes/tmp is ignored, src/c.txt matches no glob).
    expect(err).toContain('factory: watching 4 files: factory.yaml and the globs notes/**, src/**/*.js, ignoring notes/tmp/**\n');
    expect(err).toContain('factory: stages lint, test declare no `inputs`: editing the files they read will not rerun them (declare them as `inputs:` globs, or add them to `watch.paths`)\n');
    // Said before the first run starts.
    expect(err.indexOf('factory: watching 4 files')).toBeLessThan(err.indexOf('run watched started'));
    r.kill('SIGINT');
    expect((await r.done).code).toBe(130);
  });

  test('every stage with its inputs: no warning', async () => {
    const dir = workspaceWith('factory-watch-msg-', { 'factory.yaml': 'version: 1\nname: w\nstages:\n  a: { kind: command, run: cat in.txt, inputs: [in.txt] }\n', 'in.txt': 'x\n' });
    const r = start(['apply', '--watch'], dir);
    running.push(r);
    await r.waitFor(/watching for changes/);
    expect(r.output()).toContain('factory: watching 2 files: factory.yaml and the glob in.txt\n');
    expect(r.output()).not.toContain('no `inputs`');
    r.kill('SIGINT');
    expect((await r.done).code).toBe(130);
  });
});
