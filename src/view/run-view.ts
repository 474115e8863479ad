import { listWaiting } from '../engine/approvals/approval-files.js';
import { totalTokens } from '../base/usage.js';
import { shownStatus } from '../records/describe.js';
import { isAlive } from '../records/lock.js';
import { deeper, iterationKey, type Iteration } from '../records/iteration.js';
import type { RunRecord, StageRecord } from '../records/types.js';
import type { Announced, FollowedRun } from './followed-runs.js';
import type { GraphNode, IterationRow, Question, RunPayload, RunRow, Status, TimelineBar } from './model.js';

/** A stage's entry wherever it sits: top level, or in an iteration of a loop (nested loops included). */
interface Placed {
  path: string;
  s: StageRecord;
  /** The iteration it ran in: a number in one loop, the chain from the outermost loop in nested ones. */
  iteration: Iteration | undefined;
}

/** Every entry of a record in the order it ran: a loop, then each of its iterations' stages. */
export function placedEntries(stages: Record<string, StageRecord>, iteration?: Iteration): Placed[] {
  const out: Placed[] = [];
  for (const [path, s] of Object.entries(stages)) {
    out.push({ path, s, iteration });
    for (const it of s.iterations ?? []) out.push(...placedEntries(it.stages, deeper(iteration, it.iteration)));
  }
  return out;
}

export function runRow(workspace: string, record: RunRecord): RunRow {
  const ended = record.ended_at === null ? null : Date.parse(record.ended_at);
  const counts = new Map<string, number>();
  for (const s of Object.values(record.stages)) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  return {
    id: record.id,
    name: record.name,
    status: shownStatus(workspace, record) as Status,
    started_at: record.started_at,
    ended_at: record.ended_at,
    duration_ms: ended === null ? null : Math.max(0, ended - Date.parse(record.started_at)),
    tokens: totalTokens(record.usage),
    cost_usd: record.cost_usd,
    stages: [...counts].map(([k, n]) => `${n} ${k}`).join(', '),
  };
}

export function runPayload(workspace: string, run: FollowedRun & { ok: true }): RunPayload {
  const { record } = run;
  const runStatus = shownStatus(workspace, record) as Status;
  const waiting = waitingQuestions(run.dir, record.id);
  const placed = placedEntries(record.stages);
  const latest = new Map<string, Placed>();
  for (const p of placed) latest.set(p.path, p);
  const waitingPaths = new Set(waiting.map((q) => q.stage));
  const statusOf = (s: StageRecord | undefined, path: string): Status => {
    if (!s) return runStatus === 'running' ? 'pending' : 'skipped';
    if (s.status !== 'running') return s.status;
    if (waitingPaths.has(path)) return 'waiting';
    return runStatus === 'running' ? 'running' : 'interrupted';
  };
  const shape = run.announced.length > 0 ? run.announced : shapeFromRecord(placed);
  const nodes = shape.map((a) => node(a, shape, latest.get(a.path), statusOf));
  const timeline: TimelineBar[] = placed
    .filter((p) => p.s.started_at !== null)
    .map((p) => ({ path: p.path, ...(p.iteration === undefined ? {} : { iteration: iterationKey(p.iteration) }), status: statusOf(p.s, p.path), start: p.s.started_at!, end: p.s.ended_at }));
  return {
    id: record.id,
    name: record.name,
    status: runStatus,
    exit_code: record.exit_code,
    started_at: record.started_at,
    ended_at: record.ended_at,
    usage: record.usage,
    cost_usd: record.cost_usd,
    nodes,
    timeline,
    iterations: iterationRows(placed, statusOf),
    waiting,
  };
}

function node(a: Announced, shape: readonly Announced[], p: Placed | undefined, statusOf: (s: StageRecord | undefined, path: string) => Status): GraphNode {
  const dot = a.path.lastIndexOf('.');
  const parentPath = dot === -1 ? null : a.path.slice(0, dot);
  const parent = parentPath !== null && shape.some((o) => o.path === parentPath) ? parentPath : null;
  const scope = parentPath === null ? '' : `${parentPath}.`;
  const s = p?.s;
  return {
    path: a.path,
    kind: a.kind,
    needs: a.needs.map((n) => `${scope}${n}`),
    parent,
    status: statusOf(s, a.path),
    reason: s?.reason ?? null,
    message: s?.message ?? null,
    started_at: s?.started_at ?? null,
    ended_at: s?.ended_at ?? null,
    cached: s?.cached ?? false,
    tokens: totalTokens(s?.usage),
    cost_usd: s?.cost_usd ?? 0,
    ...(p?.iteration === undefined ? {} : { iteration: iterationKey(p.iteration) }),
    ...(a.max_iterations === undefined ? {} : { max_iterations: a.max_iterations }),
  };
}

/** A record without `run_started` (an earlier layout): its stages, without the edges. */
function shapeFromRecord(placed: readonly Placed[]): Announced[] {
  const seen = new Map<string, Announced>();
  for (const p of placed) if (!seen.has(p.path)) seen.set(p.path, { path: p.path, kind: p.s.iterations ? 'loop' : 'stage', needs: [] });
  return [...seen.values()];
}

function iterationRows(placed: readonly Placed[], statusOf: (s: StageRecord | undefined, path: string) => Status): IterationRow[] {
  const rows: IterationRow[] = [];
  for (const p of placed) {
    for (const it of p.s.iterations ?? []) {
      const body = Object.entries(it.stages);
      const satisfaction = body.map(([, b]) => b.outputs.satisfaction).filter((v): v is number => typeof v === 'number').at(-1) ?? null;
      rows.push({
        loop: p.path,
        iteration: iterationKey(deeper(p.iteration, it.iteration)),
        stages: body.map(([path, b]) => ({ path, status: statusOf(b, path), reason: b.reason })),
        satisfaction,
        tokens: body.reduce((n, [, b]) => n + totalTokens(b.usage), 0),
        cost_usd: body.reduce((n, [, b]) => n + b.cost_usd, 0),
      });
    }
  }
  return rows;
}

/** The questions a live apply waits on (a dead process's questions are no longer waiting). */
function waitingQuestions(dir: string, id: string): Question[] {
  return listWaiting(dir)
    .records.filter((q) => isAlive({ pid: q.pid, host: q.host, run: id, started_at: q.since }))
    .map((q) => ({
      stage: q.stage,
      ...(q.iteration === undefined ? {} : { iteration: iterationKey(q.iteration) }),
      kind: q.kind,
      message: q.message,
      ...(q.options ? { options: q.options } : {}),
      command: q.command,
      since: q.since,
    }));
}
