import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { OUTPUT_CAP_BYTES } from '../../src/process/capture.js';
import { buildPipeline, tempWorkspace } from '../support/pipeline-builder.js';
import { run } from '../support/run-helpers.js';

const cmd = (run: unknown, extra: Record<string, unknown> = {}) => ({ kind: 'command', run, retries: 0, ...extra });

describe('command stage', () => {
  test('a string runs through sh -c, an array without a shell; outputs exit_code, stdout, stderr', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        shell: cmd('echo "$((1+2))"; echo oops >&2'),
        argv: cmd(['printf', '%s|%s', '$HOME', 'a b']),
      },
    }));
    expect(r.stage('shell')).toMatchObject({ status: 'succeeded', reason: null, outputs: { exit_code: 0, stdout: '3\n', stderr: 'oops\n' } });
    expect(r.stage('argv').outputs).toMatchObject({ stdout: '$HOME|a b' });
    expect(readFileSync(path.join(r.summary.record, 'stages', 'shell.stderr'), 'utf8')).toBe('oops\n');
    expect(r.summary.exit_code).toBe(0);
  });

  test('env: factory env, then the pipeline env, then the stage env rendered at run time, values as text', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      params: { who: { type: 'string', default: 'world' } },
      env: { TOP: 1.5, FLAG: true, NOTHING: null, LIST: [1, 'a'], WHO: '${{ params.who }}', OVERRIDE: 'top' },
      stages: {
        first: cmd('printf 42'),
        show: cmd('printf "%s;" "$TOP" "$FLAG" "[$NOTHING]" "$LIST" "$WHO" "$OVERRIDE" "$FROM_STAGE" "$MAP" "$PATH_SET"', {
          needs: ['first'],
          env: { OVERRIDE: 'stage', FROM_STAGE: '${{ stages.first.outputs.stdout }}', MAP: { k: [true] }, PATH_SET: '${{ env.WHO }}-${{ run.id != null }}' },
        }),
      },
    }));
    expect(r.stage('show').outputs.stdout).toBe('1.5;true;[];[1,"a"];world;stage;42;{"k":[true]};world-true;');
  });

  test('cwd is relative to the pipeline directory; a missing cwd is an error with reason spawn', async () => {
    const dir = tempWorkspace();
    mkdirSync(path.join(dir, 'sub'));
    const r = await run(buildPipeline(dir, { stages: { here: cmd('pwd', { cwd: 'sub' }), gone: cmd('pwd', { cwd: 'nope' }) } }));
    expect(r.stage('here').outputs.stdout).toBe(`${path.join(dir, 'sub')}\n`);
    expect(r.stage('gone')).toMatchObject({ status: 'error', reason: 'spawn' });
    expect(r.stage('gone').message).toContain('cwd "nope" does not exist');
    expect(r.summary.exit_code).toBe(1);
  });

  test('a program that does not exist is an error (spawn), retried; the shell exiting 127 is failed', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        missing: { kind: 'command', run: ['./no-such-program'], retries: 2 },
        shell: cmd('no-such-program-either'),
      },
    }));
    expect(r.stage('missing')).toMatchObject({ status: 'error', reason: 'spawn', attempts: 3 });
    expect(r.stage('missing').message).toContain('no such program');
    expect(r.stage('shell')).toMatchObject({ status: 'failed', reason: 'exit_code', attempts: 1, outputs: { exit_code: 127 } });
    expect(r.stage('shell').message).toContain('command not found');
  });

  test('a file that is not executable is an error (spawn) saying so', async () => {
    const dir = tempWorkspace();
    writeFileSync(path.join(dir, 'script.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(path.join(dir, 'script.sh'), 0o644);
    const r = await run(buildPipeline(dir, { stages: { s: cmd(['./script.sh']) } }));
    expect(r.stage('s')).toMatchObject({ status: 'error', reason: 'spawn' });
    expect(r.stage('s').message).toContain('not executable');
  });

  test('success_codes decide success; a failed outcome is never retried', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: { three: cmd('exit 3', { success_codes: [0, 3] }), one: { kind: 'command', run: 'echo x >> count; exit 1', retries: 3 } },
    }));
    expect(r.stage('three')).toMatchObject({ status: 'succeeded', outputs: { exit_code: 3 } });
    expect(r.stage('one')).toMatchObject({ status: 'failed', reason: 'exit_code', attempts: 1 });
    expect(readFileSync(path.join(dir, 'count'), 'utf8')).toBe('x\n');
  });

  test('parse: json puts stdout in outputs.json; stdout that is not JSON fails with reason parse', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, {
      stages: {
        good: cmd('echo \'{"n": 2, "list": ["a"]}\'', { parse: 'json' }),
        bad: cmd('echo "not json"', { parse: 'json' }),
        empty: cmd('true', { parse: 'json' }),
        use: cmd('printf "%s" "$N"', { needs: ['good'], env: { N: '${{ stages.good.outputs.json.list[0] }}' } }),
      },
    }));
    expect(r.stage('good').outputs.json).toEqual({ n: 2, list: ['a'] });
    expect(r.stage('bad')).toMatchObject({ status: 'failed', reason: 'parse', outputs: { json: null } });
    expect(r.stage('bad').message).toContain('not valid JSON');
    expect(r.stage('empty').message).toContain('empty');
    expect(r.stage('use').outputs.stdout).toBe('a');
  });

  test('output over the cap is cut in the middle with a marker; the log file has all of it', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { big: cmd('head -c 300000 /dev/zero | tr "\\0" a; echo END') } }));
    const out = r.stage('big').outputs.stdout as string;
    expect(out.length).toBeLessThan(OUTPUT_CAP_BYTES + 300);
    expect(out).toMatch(/bytes omitted; the full output is in .*big\.stdout/);
    expect(out.endsWith('aEND\n')).toBe(true);
    expect(readFileSync(path.join(r.summary.record, 'stages', 'big.stdout')).length).toBe(300004);
  });

  test('binary output is stored as bytes and shown as lossy text', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { bin: cmd("printf 'a\\000b\\377\\376c'") } }));
    expect(r.stage('bin').status).toBe('succeeded');
    expect(r.stage('bin').outputs.stdout).toBe('a\u0000b\ufffd\ufffdc');
    expect([...readFileSync(path.join(r.summary.record, 'stages', 'bin.stdout'))]).toEqual([0x61, 0, 0x62, 0xff, 0xfe, 0x63]);
    expect(r.events.of('stage_output').map((e) => e.chunk).join('')).toBe('a\u0000b\ufffd\ufffdc');
  });

  test('an env expression that fails is an error (expression) naming file:line:col', async () => {
    const dir = tempWorkspace();
    const r = await run(buildPipeline(dir, { stages: { s: cmd('true', { env: { BAD: "${{ fromJSON('{nope') }}" } }) } }));
    expect(r.stage('s')).toMatchObject({ status: 'error', reason: 'expression', attempts: 1 });
    expect(r.stage('s').message).toMatch(/^env BAD: factory\.yaml:\d+:\d+: /);
  });
});
