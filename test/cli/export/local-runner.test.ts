import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { loadRun } from '../../../src/records/read.js';
import type { RunRecord, StageRecord } from '../../../src/records/types.js';
import { ROOT, runInProcess } from '../../support/cli.js';
import { startFakeAnthropic, textMessage, toolUseMessage, type FakeAnthropic, type RecordedRequest } from '../../support/fake-anthropic.js';
import { playWorkflow, runShell, treeFiles, type PlayedJob } from './gha-player.js';

/**
 * The "local runner" (issue 9, done-when 2): an exported GitHub workflow played job by job, each
 * in its own fresh clone, passing only the artifacts the workflow uploads and downloads, against
 * the fake model server — and the outcome compared with a single-machine `apply` of the same
 * pipeline in another clone: the same stage statuses, outputs and files.
 */
const BIN = path.join(ROOT, 'bin', 'factory.js');
const KEY = 'sk-ant-api03-LOCALRUNNER0123456789';

let api: FakeAnthropic;
beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist', 'bundle', 'factory.js'))) throw new Error('dist/ is missing: run `npm run build` before these tests');
  api = await startFakeAnthropic({ apiKey: KEY });
});
afterAll(async () => {
  await api?.close();
});

function runnerEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    FACTORY_RETRY_BASE_MS: '1',
    // The runner's network leads to the fake Messages API.
    ANTHROPIC_BASE_URL: api.url,
  };
}

/** `npm ci` in a test: this repository's build, linked as the package software-factory (its bin on node_modules/.bin). */
function linkNodeModules(dir: string): void {
  mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(ROOT.replace(/\/$/, ''), path.join(dir, 'node_modules', 'software-factory'));
  symlinkSync(BIN, path.join(dir, 'node_modules', '.bin', 'factory'));
}

async function makeRepo(yaml: string, files: Record<string, string> = {}): Promise<{ repo: string; work: string }> {
  const work = realpathSync(mkdtempSync(path.join(tmpdir(), 'factory-play-')));
  const repo = path.join(work, 'repo');
  const all: Record<string, string> = {
    'factory.yaml': yaml,
    'package.json': `${JSON.stringify({ name: 'relay', private: true, type: 'module', devDependencies: { 'software-factory': `file:${ROOT}` } }, null, 2)}\n`,
    '.gitignore': 'node_modules/\n.factory/\n',
    ...files,
  };
  for (const [rel, text] of Object.entries(all)) {
    mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
    writeFileSync(path.join(repo, rel), text);
  }
  const git = await runShell('git init -q && git add -A && git -c user.name=test -c user.email=test@example.com commit -qm init', repo, runnerEnv());
  if (git.code !== 0) throw new Error(git.stderr);
  return { repo, work };
}

async function exportWorkflow(repo: string): Promise<string> {
  const r = await runInProcess(['export', '--to', 'github-actions', '-o', '-'], repo);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** The same pipeline on one machine: a clone, node_modules linked, one `factory apply`. */
async function singleMachine(repo: string, work: string): Promise<{ dir: string; code: number; record: RunRecord }> {
  const dir = path.join(work, 'single');
  await runShell(`git clone -q "${repo}" "${dir}"`, work, runnerEnv());
  linkNodeModules(dir);
  const r = await runShell('npx --no-install factory apply', dir, { ...runnerEnv(), CI: 'true', ANTHROPIC_API_KEY: KEY });
  const runs = path.join(dir, '.factory', 'runs');
  const id = readdirSync(runs)[0]!;
  const record = JSON.parse(readFileSync(path.join(runs, id, 'run.json'), 'utf8')) as RunRecord;
  return { dir, code: r.code, record };
}

async function distributed(repo: string, work: string): Promise<{ jobs: PlayedJob[]; runId: string }> {
  const workflow = await exportWorkflow(repo);
  const github = { run_id: '4242', run_attempt: '1' };
  const jobs = await playWorkflow(workflow, { repo, work, env: runnerEnv(), github, secrets: { ANTHROPIC_API_KEY: KEY }, install: linkNodeModules });
  return { jobs, runId: `${github.run_id}-${github.run_attempt}` };
}

/** What must be equal between the two: everything but times. */
function comparable(stages: Record<string, StageRecord>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(stages)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, s]) => [id, { status: s.status, reason: s.reason, message: s.message, outputs: s.outputs, usage: s.usage, cost_usd: s.cost_usd, attempts: s.attempts }]),
  );
}

/** Every record the jobs uploaded, in one folder, merged as a downstream job merges them (no run.json). */
function mergedArtifacts(work: string, runId: string): RunRecord {
  const merged = path.join(work, 'merged');
  const into = path.join(merged, '.factory', 'runs', runId);
  mkdirSync(into, { recursive: true });
  for (const name of readdirSync(path.join(work, 'artifacts'))) cpSync(path.join(work, 'artifacts', name), into, { recursive: true });
  const loaded = loadRun(merged, runId);
  if (!loaded.ok) throw new Error(loaded.error);
  return loaded.record;
}

function filesOf(dir: string): Record<string, string> {
  return Object.fromEntries(treeFiles(dir).map((rel) => [rel, createHash('sha256').update(readFileSync(path.join(dir, rel))).digest('hex')]));
}

const messages = (from: number) => api.requests.slice(from).filter((r) => r.path.split('?')[0] === '/v1/messages');
const bodyOf = (r: RecordedRequest) => JSON.stringify(r.body);
const offers = (r: RecordedRequest, tool: string) => ((r.body as { tools?: { name: string }[] }).tools ?? []).some((t) => t.name === tool);
const hasToolResult = (r: RecordedRequest) => bodyOf(r).includes('"tool_result"');

const RELAY = `version: 1
name: relay
defaults:
  model: claude-sonnet-5-5
  max_tokens: 1024
  retries: 0
budget:
  cost_usd: 5
stages:
  setup:
    kind: command
    run: mkdir -p data && printf 'greeting=hello\\n' > data/config.txt && printf '\\001\\000\\002' > data/seed.bin && echo configured
  generate:
    kind: generate
    needs: [setup]
    prompt: Write src/greet.js, which prints the greeting found in data/config.txt.
    context: [data/config.txt]
    writes: ["src/**"]
    max_turns: 4
  test:
    kind: command
    needs: [generate]
    run: node src/greet.js
  review:
    kind: review
    needs: [test]
    rubric: Small and correct.
  report:
    kind: command
    needs: [review]
    if: \${{ always() }}
    run: ls data src && cat data/config.txt
`;

const GREET = "import { readFileSync } from 'node:fs';\nconst [, word] = readFileSync('data/config.txt', 'utf8').trim().split('=');\nconsole.log(`${word}, world`);\n";

function scriptModels(): void {
  api.script([
    {
      // The review sees the diff since the run started: setup's and generate's files, wherever they ran.
      match: (r) => offers(r, 'submit_review') && bodyOf(r).includes('+++ b/src/greet.js') && bodyOf(r).includes('+++ b/data/config.txt'),
      reply: toolUseMessage([{ name: 'submit_review', input: { verdict: 'approve', score: 0.9, findings: [], summary: 'Small and correct.' } }], { input_tokens: 700, output_tokens: 40 }),
    },
    { match: (r) => offers(r, 'write_file') && hasToolResult(r), reply: textMessage('Wrote src/greet.js.', { input_tokens: 900, output_tokens: 12 }) },
    {
      // The generate stage's context holds the file setup wrote: it travelled.
      match: (r) => offers(r, 'write_file') && bodyOf(r).includes('greeting=hello'),
      reply: toolUseMessage([{ name: 'write_file', input: { path: 'src/greet.js', content: GREET } }], { input_tokens: 800, output_tokens: 90 }),
    },
  ]);
}

describe('an exported GitHub workflow played by a local runner', () => {
  test('jobs in fresh clones, records and patches as artifacts: the same statuses, outputs and files as one machine', async () => {
    scriptModels();
    const { repo, work } = await makeRepo(RELAY);

    const before = api.requests.length;
    const single = await singleMachine(repo, work);
    expect(single.code).toBe(0);
    const singleCalls = messages(before).length;
    expect(singleCalls).toBe(3);

    const mid = api.requests.length;
    const { jobs, runId } = await distributed(repo, work);
    const failedSteps = jobs.flatMap((j) => j.steps.filter((s) => s.outcome === 'failure').map((s) => `${j.id}: ${s.name}\n${s.stdout}\n${s.stderr}`));
    expect(failedSteps).toEqual([]);
    expect(Object.fromEntries(jobs.map((j) => [j.id, j.result]))).toEqual({ setup: 'success', generate: 'success', test: 'success', review: 'success', report: 'success' });
    // No stage ran twice: each job ran its own stage and took the others from the records.
    expect(messages(mid).length).toBe(singleCalls);
    for (const job of jobs) {
      const apply = job.steps.find((s) => s.name.startsWith('factory apply'))!;
      expect(apply.outcome).toBe('success');
    }

    // Statuses and outputs: every uploaded record, merged; and the last job's own run.json.
    expect(comparable(mergedArtifacts(work, runId).stages)).toEqual(comparable(single.record.stages));
    const report = jobs.find((j) => j.id === 'report')!;
    const last = JSON.parse(readFileSync(path.join(report.dir!, '.factory', 'runs', runId, 'run.json'), 'utf8')) as RunRecord;
    expect(comparable(last.stages)).toEqual(comparable(single.record.stages));
    expect(last.cost_usd).toBeCloseTo(single.record.cost_usd, 9);
    expect(last.stages.test!.outputs.stdout).toBe('hello, world\n');

    // Files: the last job's checkout holds every upstream change, as the single machine's does.
    expect(filesOf(report.dir!)).toEqual(filesOf(single.dir));
    expect(readFileSync(path.join(report.dir!, 'data', 'seed.bin'))).toEqual(Buffer.from([1, 0, 2]));
    // What travelled: each job's journal (named after its stage), its logs and transcripts, and its patch, nothing else.
    expect(readdirSync(path.join(work, 'artifacts')).sort()).toEqual(['factory-generate', 'factory-report', 'factory-review', 'factory-setup', 'factory-test']);
    expect(readdirSync(path.join(work, 'artifacts', 'factory-setup')).sort()).toEqual(['changes', 'journal', 'stages']);
    expect(readdirSync(path.join(work, 'artifacts', 'factory-review')).sort()).toEqual(['journal', 'stages']);
    for (const job of ['generate', 'report', 'review', 'setup', 'test']) expect(readdirSync(path.join(work, 'artifacts', `factory-${job}`, 'journal'))).toEqual([`${job}.ndjson`]);
    expect(readdirSync(path.join(work, 'artifacts', 'factory-generate', 'changes'))).toEqual(['generate.patch']);
  }, 240_000);

  test('a failure: GitHub skips what needs it, failure() and always() jobs run, and the records end as on one machine', async () => {
    const { repo, work } = await makeRepo(`version: 1
name: broken
stages:
  build:
    kind: command
    run: printf built > build.txt
  test:
    kind: command
    needs: [build]
    run: cat build.txt && exit 1
  deploy:
    kind: command
    needs: [test]
    run: printf deployed > deploy.txt
  notify:
    kind: command
    needs: [test]
    if: \${{ failure() }}
    run: printf notified > notify.txt
  report:
    kind: command
    needs: [deploy, notify]
    if: \${{ always() }}
    run: ls *.txt
`);
    const single = await singleMachine(repo, work);
    expect(single.code).toBe(1);
    const { jobs, runId } = await distributed(repo, work);
    expect(Object.fromEntries(jobs.map((j) => [j.id, j.result]))).toEqual({ build: 'success', test: 'failure', deploy: 'skipped', notify: 'success', report: 'success' });
    const report = jobs.find((j) => j.id === 'report')!;
    const last = JSON.parse(readFileSync(path.join(report.dir!, '.factory', 'runs', runId, 'run.json'), 'utf8')) as RunRecord;
    expect(comparable(last.stages)).toEqual(comparable(single.record.stages));
    expect(last.stages.deploy).toMatchObject({ status: 'skipped', reason: 'needs' });
    expect(last.stages.report!.outputs.stdout).toBe('build.txt\nnotify.txt\n');
    expect(filesOf(report.dir!)).toEqual(filesOf(single.dir));
  }, 240_000);
});

/**
 * Argo in spirit: one shared folder stands for the volume claim; the checkout task clones into it,
 * then each task runs its container's command there once `depends` allows, in DAG order.
 */
type ArgoResult = 'Succeeded' | 'Failed' | 'Omitted' | 'Skipped';

interface ArgoTemplate {
  name: string;
  dag?: { tasks: { name: string; depends?: string; template: string; arguments?: { parameters?: { name: string; value: string }[] } }[] };
  container?: { workingDir?: string; args: string[]; env?: { name: string; value?: string; valueFrom?: unknown }[] };
}

async function playArgo(yamlText: string, repo: string, work: string, workflowName: string): Promise<{ volume: string; results: Record<string, ArgoResult> }> {
  const wf = parse(yamlText) as { spec: { entrypoint: string; templates: ArgoTemplate[] } };
  const templates = new Map(wf.spec.templates.map((t) => [t.name, t]));
  const tasks = templates.get(wf.spec.entrypoint)!.dag!.tasks;
  const volume = path.join(work, 'volume');
  const results: Record<string, ArgoResult> = {};
  const pending = [...tasks];
  while (pending.length > 0) {
    const i = pending.findIndex((t) => taskNames(t.depends).every((n) => n in results));
    if (i === -1) throw new Error(`no task can start: ${pending.map((t) => t.name).join(', ')}`);
    const task = pending.splice(i, 1)[0]!;
    if (task.depends !== undefined && !evalDepends(task.depends, results)) {
      results[task.name] = 'Omitted';
      continue;
    }
    if (task.template === 'checkout') {
      const cloned = await runShell(`git clone -q "${repo}" "${volume}"`, work, runnerEnv());
      linkNodeModules(volume);
      results[task.name] = cloned.code === 0 ? 'Succeeded' : 'Failed';
      continue;
    }
    const container = templates.get(task.template)?.container;
    if (!container) throw new Error(`the player runs container templates only, not ${task.template}`);
    const params = Object.fromEntries((task.arguments?.parameters ?? []).map((p) => [p.name, p.value]));
    const command = container.args[0]!.replace(/\{\{inputs\.parameters\.(\w+)\}\}/g, (_, n: string) => params[n]!).replace(/\{\{workflow\.name\}\}/g, workflowName);
    const env: Record<string, string> = { ...runnerEnv() };
    for (const e of container.env ?? []) env[e.name] = e.value ?? KEY;
    const cwd = (container.workingDir ?? '/workspace').replace(/^\/workspace/, volume);
    const r = await runShell(command, cwd, env);
    results[task.name] = r.code === 0 ? 'Succeeded' : 'Failed';
  }
  return { volume, results };
}

function taskNames(depends: string | undefined): string[] {
  return [...new Set([...(depends ?? '').matchAll(/([a-z0-9-]+)(?:\.[A-Za-z]+)?/g)].map((m) => m[1]!))];
}

/** Argo's `depends`: task.Status terms (or bare task names) with !, &&, || and parentheses. */
function evalDepends(text: string, results: Record<string, ArgoResult>): boolean {
  const tokens = text.match(/\(|\)|&&|\|\||!|[a-z0-9-]+(?:\.[A-Za-z]+)?/g) ?? [];
  let at = 0;
  const or = (): boolean => {
    let v = and();
    while (tokens[at] === '||') {
      at++;
      v = and() || v;
    }
    return v;
  };
  const and = (): boolean => {
    let v = unary();
    while (tokens[at] === '&&') {
      at++;
      v = unary() && v;
    }
    return v;
  };
  const unary = (): boolean => {
    const t = tokens[at++]!;
    if (t === '!') return !unary();
    if (t === '(') {
      const v = or();
      at++;
      return v;
    }
    const [name, status] = t.split('.') as [string, string | undefined];
    // A bare task name: it succeeded (or was skipped).
    if (status === undefined) return results[name] === 'Succeeded' || results[name] === 'Skipped';
    return results[name] === status;
  };
  return or();
}

describe('an exported Argo workflow played on one shared folder', () => {
  test('tasks in DAG order on the volume end as one machine does', async () => {
    scriptModels();
    const { repo, work } = await makeRepo(RELAY);
    const single = await singleMachine(repo, work);
    expect(single.code).toBe(0);
    const exported = await runInProcess(['export', '--to', 'argo', '-o', '-'], repo);
    expect(exported.code, exported.stderr).toBe(0);
    const mid = api.requests.length;
    const { volume, results } = await playArgo(exported.stdout, repo, work, 'factory-relay-x7k2p');
    expect(results).toEqual({ checkout: 'Succeeded', setup: 'Succeeded', generate: 'Succeeded', test: 'Succeeded', review: 'Succeeded', report: 'Succeeded' });
    expect(messages(mid).length).toBe(3);
    const record = JSON.parse(readFileSync(path.join(volume, '.factory', 'runs', 'factory-relay-x7k2p', 'run.json'), 'utf8')) as RunRecord;
    expect(comparable(record.stages)).toEqual(comparable(single.record.stages));
    expect(filesOf(volume)).toEqual(filesOf(single.dir));
  }, 240_000);
});

