import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, test } from 'vitest';
import { ZERO_USAGE } from '../../src/base/usage.js';
import type { EngineEvent } from '../../src/records/events.js';
import { PresetIds } from '../../src/telemetry/export.js';
import { SpanTree } from '../../src/telemetry/span-tree.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const base = (ms: number) => ({ time: at(ms), run: 'r1' });

/** A SpanTree over the real SDK, its spans kept in memory. */
function tree(parent?: { traceId: string; spanId: string; flags: string }) {
  const exporter = new InMemorySpanExporter();
  const ids = new PresetIds(TRACE);
  const provider = new BasicTracerProvider({ idGenerator: ids, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const t = new SpanTree(provider.getTracer('test'), ids, { startTime: T0, ...(parent ? { parent } : {}) });
  const spans = () => exporter.getFinishedSpans();
  const named = (name: string) => spans().filter((s) => s.name === name);
  const one = (name: string): ReadableSpan => {
    const found = named(name);
    expect(found.map((s) => s.name)).toEqual([name]);
    return found[0]!;
  };
  return { t, spans, named, one };
}

const ms = (s: ReadableSpan, which: 'startTime' | 'endTime') => s[which][0] * 1000 + s[which][1] / 1e6;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

function finished(stage: string, ended: number, extra: Partial<Extract<EngineEvent, { type: 'stage_finished' }>> = {}): EngineEvent {
  return { ...base(ended), type: 'stage_finished', stage, status: 'succeeded', cached: false, duration_ms: 0, usage: ZERO_USAGE, cost_usd: 0, ...extra };
}

describe('the span tree built from the events', () => {
  test('a loop body under its loop, one span per iteration; a fan-out instance named; real times', () => {
    const { t, named, one } = tree();
    t.emit({ ...base(1), type: 'run_started', name: 'p', file: 'factory.yaml', dir: '/w', resumed: false, stages: [{ path: 'fix', kind: 'loop', needs: [] }, { path: 'fix.test', kind: 'command', needs: [] }, { path: 'grid[linux].build', kind: 'command', needs: [] }] });
    t.emit({ ...base(2), type: 'stage_started', stage: 'fix', kind: 'loop', attempt: 1 });
    for (const i of [1, 2]) {
      t.emit({ ...base(10 * i), type: 'stage_started', stage: 'fix.test', iteration: i, kind: 'command', attempt: 1 });
      t.emit(finished('fix.test', 10 * i + 5, { iteration: i, status: i === 1 ? 'failed' : 'succeeded', ...(i === 1 ? { reason: 'exit_code' as const, message: 'exited with code 1' } : {}) }));
    }
    t.emit(finished('fix', 30));
    t.emit({ ...base(31), type: 'stage_started', stage: 'grid[linux].build', kind: 'command', attempt: 1 });
    t.emit(finished('grid[linux].build', 40));
    t.emit({ ...base(41), type: 'run_finished', status: 'succeeded', exit_code: 0, duration_ms: 40, usage: ZERO_USAGE, cost_usd: 0, record: '/w/.factory/runs/r1' });

    const run = one('run p');
    const loop = one('stage fix');
    expect(parentOf(loop)).toBe(run.spanContext().spanId);
    const body = named('stage fix.test');
    expect(body.map((s) => [s.attributes['factory.stage.iteration'], parentOf(s) === loop.spanContext().spanId, s.status.code, ms(s, 'startTime') - T0, ms(s, 'endTime') - T0])).toEqual([
      [1, true, 2, 10, 15],
      [2, true, 0, 20, 25],
    ]);
    expect(body[0]!.attributes).toMatchObject({ 'factory.stage.kind': 'command', 'factory.stage.status': 'failed', 'factory.stage.reason': 'exit_code' });
    expect(one('stage grid[linux].build').attributes['factory.stage.instance']).toBe('linux');
    expect([ms(run, 'startTime'), ms(run, 'endTime')]).toEqual([T0, T0 + 41]);
  });

  test('nested loops: a body stage under its inner loop, with the chain of iterations', () => {
    const { t, one, named } = tree();
    t.emit({ ...base(1), type: 'stage_started', stage: 'outer', kind: 'loop', attempt: 1 });
    t.emit({ ...base(2), type: 'stage_started', stage: 'outer.inner', iteration: 2, kind: 'loop', attempt: 1 });
    t.emit({ ...base(3), type: 'stage_started', stage: 'outer.inner.step', iteration: [2, 1], kind: 'command', attempt: 1 });
    t.emit(finished('outer.inner.step', 4, { iteration: [2, 1] }));
    t.emit(finished('outer.inner', 5, { iteration: 2 }));
    t.emit(finished('outer', 6));
    const step = one('stage outer.inner.step');
    expect(step.attributes).toMatchObject({ 'factory.stage.iteration': 1, 'factory.stage.iterations': [2, 1] });
    expect(parentOf(step)).toBe(named('stage outer.inner')[0]!.spanContext().spanId);
    expect(ms(step, 'endTime') - T0).toBe(4);
  });

  test('a stage that never started (skipped, kept) spans its recorded duration; an interrupted run closes what is open', () => {
    const { t, one } = tree();
    t.emit(finished('kept', 100, { duration_ms: 30, kept: true }));
    t.emit({ ...base(110), type: 'stage_started', stage: 'slow', kind: 'command', attempt: 1 });
    t.end(T0 + 200);
    const kept = one('stage kept');
    expect([ms(kept, 'startTime') - T0, ms(kept, 'endTime') - T0, kept.attributes['factory.stage.kept']]).toEqual([70, 100, true]);
    const slow = one('stage slow');
    expect(ms(slow, 'endTime') - T0).toBe(200);
    expect(one('run factory').ended).toBe(true);
  });

  test('a run that could not start (the lock held) is one span, in error, saying why', () => {
    const { t, spans } = tree();
    t.end(T0 + 5, 'another factory apply is running in this folder');
    expect(spans().map((s) => [s.name, s.status])).toEqual([['run factory', { code: 2, message: 'another factory apply is running in this folder' }]]);
  });

  test('a process gets the span its TRACEPARENT names; a server with no stage is under the run; TRACEPARENT parents the run', () => {
    const parent = { traceId: TRACE, spanId: 'b7ad6b7169203331', flags: '01' };
    const { t, one } = tree(parent);
    t.emit({ ...base(1), type: 'stage_started', stage: 'build', kind: 'command', attempt: 1 });
    t.emit({ ...base(9), type: 'process', stage: 'build', program: 'sh', role: 'command', exit_code: 0, duration_ms: 6, traceparent: `00-${TRACE}-00f067aa0ba902b7-01` });
    t.emit({ ...base(12), type: 'process', program: 'npx', role: 'mcp', exit_code: null, duration_ms: 11, traceparent: `00-${TRACE}-1111111111111111-01` });
    t.emit(finished('build', 10));
    t.end(T0 + 20);
    const run = one('run factory');
    expect(run.spanContext().traceId).toBe(TRACE);
    expect(parentOf(run)).toBe(parent.spanId);
    const cmd = one('command sh');
    expect([cmd.spanContext().spanId, parentOf(cmd), ms(cmd, 'startTime') - T0, cmd.status.code]).toEqual(['00f067aa0ba902b7', one('stage build').spanContext().spanId, 3, 0]);
    const mcp = one('mcp npx');
    expect([mcp.spanContext().spanId, parentOf(mcp), mcp.attributes['process.exit.code']]).toEqual(['1111111111111111', run.spanContext().spanId, undefined]);
  });

  test('model and tool calls under their stage, in the GenAI conventions; a failed one is an error', () => {
    const { t, one } = tree();
    t.emit({ ...base(1), type: 'stage_started', stage: 'gen', kind: 'generate', attempt: 1 });
    const usage = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 100, cache_read_input_tokens: 1000 };
    t.emit({ ...base(50), type: 'model_call', stage: 'gen', model: 'm', usage, cost_usd: 0.01, call_id: 'c1', provider: 'anthropic', response_model: 'm-2026', duration_ms: 40, error: 'overloaded' });
    t.emit({ ...base(60), type: 'tool_call', stage: 'gen', tool: 'read_file', call_id: 'toolu_1', duration_ms: 3, error: true });
    t.emit(finished('gen', 70));
    t.end(T0 + 80);
    const chat = one('chat m');
    expect(chat.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'm',
      'gen_ai.response.model': 'm-2026',
      'gen_ai.usage.input_tokens': 1110,
      'gen_ai.usage.output_tokens': 5,
      'gen_ai.usage.cache_creation.input_tokens': 100,
      'gen_ai.usage.cache_read.input_tokens': 1000,
      'factory.cost_usd': 0.01,
      'factory.call_id': 'c1',
      'error.type': 'model_call',
    });
    expect([ms(chat, 'startTime') - T0, chat.status]).toEqual([10, { code: 2, message: 'overloaded' }]);
    const tool = one('execute_tool read_file');
    expect(tool.attributes).toEqual({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'read_file', 'gen_ai.tool.call.id': 'toolu_1', 'error.type': 'tool_error' });
    expect(parentOf(tool)).toBe(one('stage gen').spanContext().spanId);
  });
});
