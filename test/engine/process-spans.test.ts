import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { run } from '../support/run-helpers.js';
import { writeScenarios } from '../scenario/helpers.js';

const TRACE = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', flags: '01' };

/** A command stage and a scenario step that print their TRACEPARENT. */
function pipeline() {
  const dir = tempWorkspace('factory-process-spans-');
  writeScenarios(dir, [{ name: 'prints', steps: [{ run: 'echo "TP=$TRACEPARENT"', expect: { exit_code: 0 } }] }]);
  return buildPipeline(dir, {
    stages: {
      build: { kind: 'command', run: 'echo "TP=$TRACEPARENT"', env: { TRACEPARENT: 'set by the stage' } },
      check: { kind: 'scenario-validate', scenarios: 'scenarios/*.yaml', retries: 0, needs: ['build'] },
      agent: { kind: 'generate', needs: ['check'], prompt: 'go', agent: { run: ['sh', '-c', 'echo "$TRACEPARENT" > agent-tp.txt'] } },
    },
  });
}

describe('each process started is told as a `process` event', () => {
  test('traced: each gets a TRACEPARENT of its own in the run\'s trace, over the stage\'s env, which the event carries', async () => {
    const p = pipeline();
    const r = await run(p, { trace: TRACE });
    expect(r.summary.exit_code).toBe(0);
    const processes = r.events.of('process');
    expect(processes.map((p) => [p.stage, p.role, p.program, p.exit_code])).toEqual([
      ['build', 'command', 'sh', 0],
      ['check', 'step', 'sh', 0],
      ['agent', 'agent', 'sh', 0],
    ]);
    for (const p of processes) expect(p.traceparent).toMatch(new RegExp(`^00-${TRACE.traceId}-[0-9a-f]{16}-01$`));
    expect(new Set(processes.map((p) => p.traceparent)).size).toBe(3);
    expect(r.record.stages.build!.outputs.stdout).toBe(`TP=${processes[0]!.traceparent}\n`);
    expect(readFileSync(path.join(p.dir, 'agent-tp.txt'), 'utf8')).toBe(`${processes[2]!.traceparent}\n`);
  });

  test('not traced: no TRACEPARENT is made, the environment is as it was', async () => {
    const r = await run(pipeline());
    const processes = r.events.of('process');
    expect(processes).toHaveLength(3);
    expect(processes.every((p) => p.traceparent === undefined && p.duration_ms >= 0)).toBe(true);
    expect(r.record.stages.build!.outputs.stdout).toBe('TP=set by the stage\n');
  });
});
