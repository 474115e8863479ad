/**
 * `factory view` as a user starts it: the URL printed with its token, the server answering only
 * with it, Ctrl-C stopping it; and its bad arguments, in-process. The pages themselves are tested
 * in a browser (test/browser/view.test.ts).
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireBuild, runInProcess, start } from '../../support/cli.js';
import { tempWorkspace } from '../../support/pipeline-builder.js';

beforeAll(requireBuild);

describe('factory view', () => {
  it('prints a URL on 127.0.0.1 with a token, serves the page and the runs with it only, and stops on Ctrl-C', async () => {
    const dir = tempWorkspace('factory-view-cli-');
    const view = start(['view', '--no-open'], dir);
    const [url] = await view.waitFor(/http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/);
    expect(view.stdout()).toContain(`the runs of ${dir}`);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('/assets/page.js?token=');
    // The bundled page ships in the package and the bundled command finds it.
    const script = await fetch(url.replace('/?', '/assets/page.js?'));
    expect([script.status, script.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    const runs = await fetch(url.replace('/?', '/api/runs?'));
    expect(await runs.json()).toEqual({ workspace: dir, runs: [], unreadable: [] });
    expect((await fetch(url.replace(/\?token=.*/, 'api/runs'))).status).toBe(403);
    view.kill('SIGINT');
    expect((await view.done).code).toBe(130);
  });

  it('refuses a folder that does not exist, a port that is not one, and a port in use (exit 2)', async () => {
    const dir = tempWorkspace('factory-view-cli-');
    const missing = await runInProcess(['view', 'nowhere', '--no-open'], dir);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/factory view: no such file or directory: nowhere/) as unknown });
    const bad = await runInProcess(['view', '--port', 'http', '--no-open'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--port.*expected a port from 1 to 65535/);
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as AddressInfo).port;
    const taken = await runInProcess(['view', '--port', String(port), '--no-open'], dir);
    busy.close();
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain(`factory view: cannot listen on 127.0.0.1:${port}: the port is in use; give another with --port, or leave it out for a free one`);
  });
});
