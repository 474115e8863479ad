import { rmSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { requireBuild, runBuilt } from '../support/cli.js';
import { latestRunJson, workspaceWith } from '../support/workspace-files.js';

beforeAll(requireBuild);

/** A loop that converges in its 2nd iteration (the check passes once count.txt has two lines). */
const LOOP = `version: 1
name: loop-show
stages:
  build:
    kind: loop
    max_iterations: 3
    until: \${{ stages.check.outputs.exit_code == 0 }}
    stages:
      generate:
        kind: command
        run: 'echo gen >> count.txt; echo "generated $(wc -l < count.txt)"'
      check:
        kind: command
        needs: [generate]
        run: 'test $(wc -l < count.txt) -ge 2'
`;

describe('factory show for a loop', () => {
  test('its iterations as a table (status, satisfaction, tokens, cost, duration per stage), not JSON; the body by path and --iteration', () => {
    const dir = workspaceWith('factory-show-', { 'factory.yaml': LOOP });
    expect(runBuilt(['apply'], dir).code).toBe(0);
    const shown = runBuilt(['show', 'latest', 'build'], dir);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^iterations\n {2}# +stage +status +satisfaction +tokens +cost +duration\n {2}1 +generate +succeeded +- +- +- +\S+\n {5}check +failed \(exit_code\) +- +- +- +\S+\n {2}2 +generate +succeeded .*\n {5}check +succeeded /m);
    expect(shown.stdout).toContain("  stages: (the last iteration's, as above; --json prints them)");
    expect(shown.stdout).not.toContain('{');
    const json = runBuilt(['show', 'latest', 'build', '--json'], dir);
    expect(JSON.parse(json.stdout)).toMatchObject({ path: 'build', status: 'succeeded', outputs: { iterations: 2 } });
    const body = runBuilt(['show', 'latest', 'build.generate', '--iteration', '1'], dir);
    expect(body.code, body.stderr).toBe(0);
    expect(body.stdout).toContain('stage build.generate (iteration 1)\n');
    expect(body.stdout).toContain('stdout (all 1 line)\n  │ generated 1\n');
  });

  test('after a cached apply, the loop and its body are shown from the run whose result was reused', () => {
    const dir = workspaceWith('factory-show-', { 'factory.yaml': LOOP });
    expect(runBuilt(['apply'], dir).code).toBe(0);
    const first = latestRunJson(dir).id;
    rmSync(path.join(dir, 'count.txt'));
    const again = runBuilt(['apply'], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(latestRunJson(dir).stages.build).toMatchObject({ cached: true });

    const body = runBuilt(['show', 'latest', 'build.generate', '--iteration', '2'], dir);
    expect(body.code, body.stderr).toBe(0);
    expect(body.stdout).toContain(`stage build.generate (iteration 2) — from run ${first}, whose result this run reused from the cache\n`);
    expect(body.stdout).toContain('  │ generated 2\n');
    const loop = runBuilt(['show', 'latest', 'build'], dir);
    expect(loop.stdout).toContain(`from run ${first}`);
    expect(loop.stdout).toMatch(/ {2}2 +generate +succeeded/);
    const missing = runBuilt(['show', 'latest', 'build.generate', '--iteration', '5'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('has no iteration 5 of stage "build.generate"; iterations: 1, 2');
  });
});

describe('factory show takes the folder as runs does', () => {
  test('show DIR RUN STAGE, show DIR (its latest run), and --dir', () => {
    const dir = workspaceWith('factory-show-', { 'project/factory.yaml': LOOP });
    const project = path.join(dir, 'project');
    expect(runBuilt(['apply'], project).code).toBe(0);
    const byArg = runBuilt(['show', 'project', 'latest', 'build'], dir);
    expect(byArg.code, byArg.stderr).toBe(0);
    expect(byArg.stdout).toMatch(/^stage build\n/);
    const latest = runBuilt(['show', 'project'], dir);
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stdout).toMatch(/^run \S+ {2}loop-show\n/);
    const byOption = runBuilt(['show', 'latest', 'build', '--dir', 'project'], dir);
    expect(byOption.stdout).toBe(byArg.stdout);
    const twice = runBuilt(['show', 'project', 'latest', '--dir', 'project'], dir);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('the folder is given twice');
    const notFolder = runBuilt(['show', 'nowhere', 'latest', 'build'], dir);
    expect(notFolder.code).toBe(2);
    expect(notFolder.stderr).toContain('"nowhere" is not a folder: with three arguments, show takes DIR RUN STAGE');
  });

  test('"no runs in X" says how to point elsewhere', () => {
    const dir = workspaceWith('factory-show-', { 'project/factory.yaml': LOOP });
    const r = runBuilt(['show', 'latest'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`factory show: no runs in ${path.join(dir, '.factory', 'runs')} yet: \`factory apply\` records one there; for the runs of another folder, name it: factory show DIR latest (or --dir DIR)\n`);
    const byId = runBuilt(['show', 'some-run'], dir);
    expect(byId.code).toBe(2);
    expect(byId.stderr).toContain('for the runs of another folder, name it: factory show DIR RUN (or --dir DIR)');
  });
});
