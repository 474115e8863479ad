/**
 * `factory view` in a real browser: Chromium from the system's packages (.ci/run installs it),
 * driven by playwright-core, one browser for the file. The server runs in this process over
 * records the built CLI made; the gate and live tests spawn `apply` and watch the page follow it.
 * Screenshots of the main pages go to test-results/view/.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startViewServer, type ViewServer } from '../../src/view/server.js';
import { ROOT, requireBuild, start } from '../support/cli.js';
import { demoWorkspace } from '../support/view-records.js';
import { workspaceWith } from '../support/workspace-files.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = path.join(ROOT, 'test-results', 'view');
/** What the page shows comes after a server, a file watch and a fetch: generous on a busy machine. */
const POLL = { timeout: 15_000, interval: 50 };

let browser: Browser;
let demo: string;
let server: ViewServer;
const servers: ViewServer[] = [];

async function serve(workspace: string): Promise<ViewServer> {
  const s = await startViewServer({ workspace, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', USER: 'ada' } });
  servers.push(s);
  return s;
}

/** One tab for the file (a new one costs a second on a busy machine); errors in the page fail the test that saw them. */
let tab: Page;
const errors: string[] = [];

async function open(s: ViewServer, hash = ''): Promise<Page> {
  await tab.goto(`${s.url}${hash}`);
  return tab;
}

const statusOf = (page: Page, stage: string) => page.locator(`svg.graph [data-path="${stage}"]`).first().getAttribute('data-status');

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Chromium (apt-get install -y chromium; .ci/run does it)`);
  requireBuild();
  mkdirSync(SHOTS, { recursive: true });
  // A fresh profile: playwright gives each launch its own user-data-dir.
  [browser, demo] = await Promise.all([chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', ...FLAGS] }), demoWorkspace(3)]);
  server = await serve(demo);
  tab = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  tab.on('pageerror', (e) => errors.push(e.message));
  // Under vitest's 30 s, so that a wait that fails names its line.
  tab.setDefaultTimeout(15_000);
}, 60_000);

afterEach(() => {
  expect(errors.splice(0)).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.close()));
});

describe('factory view', () => {
  it('refuses a request without the token, from another origin or for another host (no browser)', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const status = (url: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        const req = request(url, { headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status(`${base}/api/runs?token=${server.token}`)).toBe(200);
    expect(await status(`${base}/api/runs`)).toBe(403);
    expect(await status(`${base}/?token=wrong${server.token}`)).toBe(403);
    expect(await status(`${base}/api/runs`, { 'x-factory-token': server.token })).toBe(200);
    expect(await status(`${base}/api/runs?token=${server.token}`, { origin: 'http://evil.example' })).toBe(403);
    expect(await status(`${base}/api/runs?token=${server.token}`, { host: `localhost:${server.port}` })).toBe(403);
    expect(await status(`${base}/api/runs?token=${server.token}`, { origin: base })).toBe(200);
    // The page's files by their one-segment name only: nothing else of the package.
    expect(await status(`${base}/assets/page.js?token=${server.token}`)).toBe(200);
    expect(await status(`${base}/assets/..%2Fpackage.json?token=${server.token}`)).toBe(404);
    expect(await status(`${base}/assets/%2E%2E%2F%2E%2E%2Fpackage.json?token=${server.token}`)).toBe(404);
    const res = await fetch(`${base}/api/runs?token=${server.token}`, { headers: { origin: 'http://evil.example' } });
    expect(await res.text()).toMatch(/requests from http:\/\/evil\.example are refused/);
  });

  it('lists the runs of a folder with three runs, and charts their cost', async () => {
    const page = await open(server);
    await expect.poll(() => page.locator('table.runs tr[data-run]').count(), POLL).toBe(3);
    expect(await page.locator('table.runs .badge').allTextContents()).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(await page.locator('.chart canvas').count()).toBe(1);
    await page.screenshot({ path: path.join(SHOTS, 'runs.png'), fullPage: true });
  });

  it('draws a run as a graph of every stage with its status, a timeline and iterations', async () => {
    const id = readdirSync(path.join(demo, '.factory', 'runs')).sort()[0]!;
    const page = await open(server, `#/run/${id}`);
    await page.locator('svg.graph').waitFor();
    for (const stage of ['plan', 'build', 'build.generate', 'build.check', 'report']) expect(await statusOf(page, stage), stage).toBe('succeeded');
    expect(await page.locator('svg.timeline').getAttribute('data-bars')).toBe('7');
    expect(await page.locator('table.iterations tbody tr').count()).toBe(2);
    expect(await page.locator('table.bars tbody tr').count()).toBe(2);
    await page.screenshot({ path: path.join(SHOTS, 'run.png'), fullPage: true });
    // Folding the loop hides its body and joins the edges to the loop itself.
    await page.locator('svg.graph .cluster[data-path="build"] .toggle').click();
    await expect.poll(() => page.locator('svg.graph [data-path="build.generate"]').count(), POLL).toBe(0);
    expect(await page.locator('svg.graph .node[data-path="build"]').textContent()).toMatch(/2 stages/);
    await page.locator('svg.graph .node[data-path="build"] rect.unfold').click();
    await expect.poll(() => statusOf(page, 'build.generate'), POLL).toBe('succeeded');
  });

  it('opens a stage from the graph: its transcript turn by turn, a refused tool call marked, and its diff', async () => {
    const id = readdirSync(path.join(demo, '.factory', 'runs')).sort()[0]!;
    const page = await open(server, `#/run/${id}`);
    await page.locator('svg.graph .node[data-path="build.generate"]').click();
    await page.locator('ol.transcript').waitFor();
    expect(page.url()).toContain(`#/run/${id}/stage/build.generate`);
    expect(await page.locator('ol.transcript .turn').count()).toBe(2);
    expect(await page.locator('.tool.tool-error .tool-name').textContent()).toBe('read_file');
    expect(await page.locator('.diff-file[data-file="hello.txt"] .add').allTextContents()).toContain('+hello world');
    await page.screenshot({ path: path.join(SHOTS, 'stage.png'), fullPage: true });
    await page.locator('nav.iters a', { hasText: '1' }).click();
    await expect.poll(() => page.locator('.diff-file[data-file="hello.txt"] .add').allTextContents(), POLL).toContain('+hello');
  });

  it('answers a waiting gate from the page, and the waiting apply goes on; a refusal is shown', async () => {
    const dir = workspaceWith('factory-view-gate-', {
      'factory.yaml': 'version: 1\nname: gated\nstages:\n  first: { kind: command, run: echo first }\n  gate: { kind: approve, needs: [first], message: Ship it? }\n  after: { kind: command, needs: [gate], run: echo after }\n',
    });
    const apply = start(['apply', '--run-id', 'gated'], dir);
    await apply.waitFor(/factory approve gated gate/, 10_000);
    const gateServer = await serve(dir);
    const page = await open(gateServer, '#/run/gated');
    await page.locator('.gate[data-stage="gate"]').waitFor();
    expect(await statusOf(page, 'gate')).toBe('waiting');
    await page.screenshot({ path: path.join(SHOTS, 'gate.png'), fullPage: true });
    await page.locator('.gate input.comment').fill('looks good');
    await page.locator('.gate button.approve').click();
    await expect.poll(() => page.locator('.gate .ok').textContent(), POLL).toMatch(/approved "gate" of run gated as ada: looks good/);
    expect((await apply.done).code).toBe(0);
    await expect.poll(() => statusOf(page, 'after'), POLL).toBe('succeeded');
    expect(await page.locator('.gate').count()).toBe(0);
    // The same rules as `factory approve`: a stage that waits for nothing is refused, with why.
    const refused = await page.evaluate(async (token) => {
      const res = await fetch(`/api/runs/gated/answer?token=${token}`, { method: 'POST', body: JSON.stringify({ stage: 'gate' }) });
      return { status: res.status, body: (await res.json()) as { message: string } };
    }, gateServer.token);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/"gate" of run gated was answered already: approved by ada/);
  });

  it('follows a run live: stages change colour and the timeline grows without a reload', async () => {
    // Each stage waits for the test's word, so the page sees every step whatever the machine's speed.
    const wait = (file: string) => `while [ ! -e ${file} ]; do sleep 0.02; done`;
    const dir = workspaceWith('factory-view-live-', {
      'factory.yaml': `version: 1\nname: live\nstages:\n  one: { kind: command, run: "${wait('go1')}" }\n  two: { kind: command, needs: [one], run: "${wait('go2')}" }\n  three: { kind: command, needs: [two], run: echo three }\n`,
    });
    const s = await serve(dir);
    const apply = start(['apply', '--run-id', 'live'], dir);
    const page = await open(s, '#/run/live');
    await expect.poll(() => statusOf(page, 'one'), POLL).toBe('running');
    expect(await statusOf(page, 'three')).toBe('pending');
    expect(await page.locator('svg.timeline').getAttribute('data-bars')).toBe('1');
    writeFileSync(path.join(dir, 'go1'), '');
    await expect.poll(() => statusOf(page, 'two'), POLL).toBe('running');
    expect(await statusOf(page, 'one')).toBe('succeeded');
    expect(await page.locator('svg.timeline').getAttribute('data-bars')).toBe('2');
    writeFileSync(path.join(dir, 'go2'), '');
    await expect.poll(() => statusOf(page, 'three'), POLL).toBe('succeeded');
    expect(await page.locator('svg.timeline').getAttribute('data-bars')).toBe('3');
    expect((await apply.done).code).toBe(0);
  });
});
