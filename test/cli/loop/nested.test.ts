import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFakeAnthropic, textMessage, type FakeAnthropic } from '../../support/fake-anthropic.js';
import { runInProcess } from '../../support/cli.js';
import { apiEnv, bodyText, messagesOf, runDirOf, runJson, workspace } from '../models/helpers.js';

// Nested loops (docs/configuration.md, "Loops inside loops"): each call keyed by the chain of
// iterations, so a replay follows the recorded path; `loops.<id>.iteration` reads an outer loop.
// The inner loop takes 2 rounds in outer iteration 1 and 1 round in outer iteration 2: with the
// innermost iteration alone as key, the replay of outer 1 got outer 2's DONE (1 round, not 2).
const NESTED = `version: 1
defaults: { model: claude-sonnet-5-5, max_tokens: 256, retries: 0 }
stages:
  outer:
    kind: loop
    max_iterations: 2
    until: \${{ loop.iteration == 2 }}
    stages:
      inner:
        kind: loop
        max_iterations: 2
        until: \${{ contains(stages.ask.outputs.text, 'DONE') }}
        stages:
          ask:
            kind: plan
            prompt: "outer \${{ loops.outer.iteration }} inner \${{ loops.inner.iteration }} (\${{ loop.iteration }})"
`;

/** The rounds each outer iteration's inner loop took, and the statuses, as run.json has them. */
function path_(dir: string) {
  const outer = runJson(dir).stages.outer!;
  return {
    status: outer.status,
    outer: outer.iterations!.map((it) => ({
      iteration: it.iteration,
      inner: it.stages['outer.inner']!.iterations!.map((i) => ({ iteration: i.iteration, ask: i.stages['outer.inner.ask']!.status })),
      innerStatus: it.stages['outer.inner']!.status,
    })),
  };
}

const RECORDED_PATH = {
  status: 'succeeded',
  outer: [
    { iteration: 1, innerStatus: 'succeeded', inner: [{ iteration: 1, ask: 'succeeded' }, { iteration: 2, ask: 'succeeded' }] },
    { iteration: 2, innerStatus: 'succeeded', inner: [{ iteration: 1, ask: 'succeeded' }] },
  ],
};

describe('a loop inside a loop', () => {
  let api: FakeAnthropic;
  let recorded: string;
  beforeAll(async () => {
    api = await startFakeAnthropic();
    api.script([
      { match: { contains: 'outer 1 inner 1 (1)' }, reply: textMessage('not yet') },
      { reply: textMessage('DONE') },
    ]);
    recorded = workspace(NESTED);
    const r = await runInProcess(['apply', '--record', 'cassette.json'], recorded, apiEnv(api.url));
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await api.close();
  });

  test('recorded live: each call keyed by the chain of iterations, the outer one read in the prompt', () => {
    const sent = messagesOf(api.requests).map(bodyText);
    expect(sent).toHaveLength(3);
    expect(sent[0]).toContain('outer 1 inner 1 (1)');
    expect(sent[1]).toContain('outer 1 inner 2 (2)');
    expect(sent[2]).toContain('outer 2 inner 1 (1)');
    const cassette = JSON.parse(readFileSync(path.join(recorded, 'cassette.json'), 'utf8')) as { calls: { stage: string; iteration: unknown; call: number }[] };
    expect(cassette.calls.map((c) => [c.stage, c.iteration, c.call])).toEqual([
      ['outer.inner.ask', [1, 1], 1],
      ['outer.inner.ask', [1, 2], 1],
      ['outer.inner.ask', [2, 1], 1],
    ]);
    expect(path_(recorded)).toEqual(RECORDED_PATH);
  });

  test("the records of both outer iterations stay: prompts and transcripts named by the chain, journal events carry it", () => {
    const stages = path.join(runDirOf(recorded), 'stages');
    const names = readdirSync(stages).filter((n) => n.startsWith('outer.inner.ask@'));
    for (const at of ['1.1', '1.2', '2.1']) {
      expect(names).toContain(`outer.inner.ask@${at}.prompt.md`);
      expect(names).toContain(`outer.inner.ask@${at}.transcript.jsonl`);
    }
    expect(readFileSync(path.join(stages, 'outer.inner.ask@1.1.prompt.md'), 'utf8')).toContain('outer 1 inner 1');
    expect(readFileSync(path.join(stages, 'outer.inner.ask@2.1.prompt.md'), 'utf8')).toContain('outer 2 inner 1');
    const journal = path.join(runDirOf(recorded), 'journal');
    const events = readdirSync(journal).flatMap((f) => readFileSync(path.join(journal, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; stage?: string; iteration?: unknown }));
    const finished = events.filter((e) => e.type === 'stage_finished' && e.stage === 'outer.inner.ask').map((e) => e.iteration);
    expect(finished).toEqual([[1, 1], [1, 2], [2, 1]]);
    // The inner loop itself runs in one loop: its iteration is a number.
    expect(events.filter((e) => e.type === 'stage_finished' && e.stage === 'outer.inner').map((e) => e.iteration)).toEqual([1, 2]);
  });

  test('replayed from that cassette, offline: the same path, round for round', async () => {
    const dir = workspace(NESTED, { 'cassette.json': readFileSync(path.join(recorded, 'cassette.json'), 'utf8') });
    const before = api.requests.length;
    const r = await runInProcess(['apply', '--replay', 'cassette.json'], dir, {});
    expect(r.code, r.stderr).toBe(0);
    expect(api.requests.length).toBe(before);
    expect(path_(dir)).toEqual(RECORDED_PATH);
    expect(readFileSync(path.join(runDirOf(dir), 'stages', 'outer.inner.ask@1.2.prompt.md'), 'utf8')).toContain('outer 1 inner 2');
    // `show` finds a nested body's stage by the chain (default: the last of each loop).
    const shown = await runInProcess(['show', 'latest', 'outer.inner.ask', '--iteration', '1.1', '--json'], dir, {});
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ path: 'outer.inner.ask', iteration: [1, 1], status: 'succeeded', outputs: { text: 'not yet' } });
    const last = await runInProcess(['show', 'latest', 'outer.inner.ask'], dir, {});
    expect(last.stdout).toContain('stage outer.inner.ask (iteration [2, 1])');
  });

  test('a cassette recorded before chains (the innermost iteration only) still replays', async () => {
    const cassette = JSON.parse(readFileSync(path.join(recorded, 'cassette.json'), 'utf8')) as { calls: { iteration: number | number[] }[] };
    // As the recorder wrote it then: [2, 1] took the place of [1, 1].
    const old = cassette.calls.filter((c) => JSON.stringify(c.iteration) !== '[1,1]').map((c) => ({ ...c, iteration: (c.iteration as number[]).at(-1)! }));
    const dir = workspace(NESTED, { 'cassette.json': JSON.stringify({ version: 1, calls: old }) });
    const r = await runInProcess(['apply', '--replay', 'cassette.json'], dir, {});
    expect(r.code, r.stderr).toBe(0);
    expect(runJson(dir).stages.outer!.status).toBe('succeeded');
  });

  test('a call missing from the cassette is named by its chain', async () => {
    const cassette = JSON.parse(readFileSync(path.join(recorded, 'cassette.json'), 'utf8')) as { calls: { iteration: unknown }[] };
    cassette.calls = cassette.calls.filter((c) => JSON.stringify(c.iteration) !== '[2,1]');
    const dir = workspace(NESTED, { 'cassette.json': JSON.stringify(cassette) });
    const r = await runInProcess(['apply', '--replay', 'cassette.json'], dir, {});
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('has no recorded answer for stage "outer.inner.ask", iteration [2, 1], call 1');
    expect(existsSync(path.join(runDirOf(dir), 'stages', 'outer.inner.ask@1.2.prompt.md'))).toBe(true);
  });
});

describe('loops.<id> in validate', () => {
  test('a loop that does not enclose the expression: its line and column, and the loops that do', async () => {
    const dir = workspace(NESTED.replace('inner ${{ loops.inner.iteration }}', 'inner ${{ loops.nope.iteration }}'));
    const r = await runInProcess(['validate'], dir, {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/factory\.yaml:16:73/);
    expect(r.stderr).toContain('loop "nope" does not enclose this expression');
    expect(r.stderr).toContain('loops.<id> reads the loops around it: outer, inner');
  });

  test('a misspelt enclosing loop gets a did-you-mean; loops outside a loop body is refused', async () => {
    const misspelt = workspace(NESTED.replace('${{ loops.outer.iteration }}', '${{ loops.outre.iteration }}'));
    const r = await runInProcess(['validate'], misspelt, {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('loop "outre" does not enclose this expression (did you mean "outer"?)');
    const outside = workspace(`version: 1
stages:
  hello:
    kind: command
    env: { N: "\${{ loops.outer.iteration }}" }
    run: echo "$N"
`);
    const o = await runInProcess(['validate'], outside, {});
    expect(o.code).toBe(2);
    expect(o.stderr).toContain('context "loops" is not available here; it exists only inside a loop body and its until');
  });
});
