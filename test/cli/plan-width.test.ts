import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { HAS_SCRIPT, requireBuild, runBuilt, startPty } from '../support/cli.js';

beforeAll(requireBuild);

/** A loop with nested stages, an `if`, four models and a budget: rows of 160–190 columns in full. */
const ROMAN = fileURLToPath(new URL('../../examples/roman-numerals', import.meta.url));
const widths = (text: string) => text.replace(/\r/g, '').split('\n').map((l) => Array.from(l).length);

describe('factory plan fits the terminal', () => {
  test('at 120 columns ($COLUMNS) every line fits: short forms, one provider said once, long cells cut with …', () => {
    const r = runBuilt(['plan'], ROMAN, { COLUMNS: '120' });
    expect(r.code, r.stderr).toBe(0);
    expect(Math.max(...widths(r.stdout))).toBeLessThanOrEqual(120);
    expect(r.stdout).toContain('provider: replay (every model stage)\n');
    expect(r.stdout).toMatch(/^#\s+stage\s+kind\s+needs\s+if\s+model\s+budget\s+worst case\s+cache$/m);
    expect(r.stdout).toMatch(/^2\.1\s+generate\s+generate\s+.*sonnet-4-5\s+.*181\.7k tok · \$2\.31 \(12×3\)/m);
    expect(r.stdout).toMatch(/^1\s+plan\s+plan\s+.*will run: \S.*…$/m);
    // The total under the table wraps instead of running past the edge.
    expect(r.stdout).toMatch(/^worst case: 213\.4k tokens .*\n {2}\S/m);
  });

  test('--wide, or a pipe without $COLUMNS: every column in full', () => {
    const wide = runBuilt(['plan', '--wide'], ROMAN, { COLUMNS: '120' });
    expect(wide.code, wide.stderr).toBe(0);
    expect(Math.max(...widths(wide.stdout))).toBeGreaterThan(150);
    expect(wide.stdout).toMatch(/^2\.1\s+build\.generate\s+generate\s+-\s+-\s+claude-sonnet-4-5\s+replay\s+-\s+181\.7k tokens · \$2\.31 \(12 calls × 3 iterations\)/m);
    expect(wide.stdout).toContain('will run: no earlier result');
    const piped = runBuilt(['plan'], ROMAN, { COLUMNS: '' });
    expect(piped.stdout).toBe(wide.stdout);
  });

  test.runIf(HAS_SCRIPT)('on a terminal of 120 columns (a real pseudo-terminal)', async () => {
    const run = startPty(['plan'], ROMAN, { COLUMNS: '' });
    const done = await run.done;
    expect(done.code, run.output()).toBe(0);
    expect(Math.max(...widths(run.output()))).toBeLessThanOrEqual(120);
    expect(run.output()).toContain('provider: replay (every model stage)');
  });
});
