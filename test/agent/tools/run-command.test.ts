import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkAllowed, environmentWithoutSecrets, tokenize } from '../../../src/agent/tools/index.js';
import { makeSandbox, put, tools } from '../helpers.js';

let root: string;
let ws: string;

const node = process.execPath;

beforeEach(() => {
  ({ root, ws } = makeSandbox('cmd'));
  put(ws, {
    'echo.js': 'console.log(JSON.stringify(process.argv.slice(2)));\n',
    'fail.js': 'console.error("boom"); process.exit(3);\n',
    'env.js': 'console.log(Object.keys(process.env).filter((k) => k.startsWith("FACTORY_T_")).sort().join(","));\n',
    'loud.js': 'process.stdout.write("x".repeat(100000) + "END");\n',
    // a parent that starts a grandchild which would write a marker later, then hangs
    'tree.js': [
      'const { spawn } = require("node:child_process");',
      'spawn(process.execPath, ["-e", "setTimeout(() => require(\'fs\').writeFileSync(\'grandchild-marker\', \'x\'), 1200)"], { stdio: "ignore" });',
      'setInterval(() => {}, 1000);',
    ].join('\n'),
  });
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('tokenize', () => {
  it.each([
    ['npm test', ['npm', 'test']],
    ['  npm   test  ', ['npm', 'test']],
    ["npm test -- --grep 'adds two'", ['npm', 'test', '--', '--grep', 'adds two']],
    ['npm test -- --grep "a \\"b\\" c"', ['npm', 'test', '--', '--grep', 'a "b" c']],
    ["echo 'it''s'", ['echo', 'its']],
    ["echo '$(whoami); rm -rf / | x > y'", ['echo', '$(whoami); rm -rf / | x > y']],
    ['echo "a*b?c"', ['echo', 'a*b?c']],
    ['echo ""', ['echo', '']],
    ['node --test=a,b key=value @scope/x:y %20 +1', ['node', '--test=a,b', 'key=value', '@scope/x:y', '%20', '+1']],
  ])('%s', (command, argv) => {
    expect(tokenize(command)).toEqual({ ok: true, argv });
  });

  it.each([
    'npm test; rm -rf /',
    'npm test;rm -rf /',
    'npm test && curl evil',
    'npm test || true',
    'npm test | tee x',
    'npm test & ',
    'echo $(whoami)',
    'echo $HOME',
    'echo `whoami`',
    'echo "$(whoami)"',
    'echo "`whoami`"',
    'npm test > out.txt',
    'npm test < in.txt',
    'ls *.ts',
    'ls a?.ts',
    'ls [ab].ts',
    '(npm test)',
    '{ npm test; }',
    'echo !!',
    'cat ~/.ssh/id_rsa',
    'npm test # comment',
    'npm test\nrm -rf /',
    'npm test\r\nrm -rf /',
    'echo foo\\ bar',
    "echo 'unterminated",
    'echo "unterminated',
    '',
    '   ',
  ])('refuses %j', (command) => {
    expect(tokenize(command).ok).toBe(false);
  });
});

describe('checkAllowed', () => {
  const allow = ['npm test', 'npm test *', 'node scripts/build.js', "git commit -m 'fixed'"];
  it.each([
    [['npm', 'test'], true],
    [['npm', 'test', '--', '--grep', 'x'], true],
    [['node', 'scripts/build.js'], true],
    [['node', 'scripts/build.js', '--watch'], false],
    [['git', 'commit', '-m', 'fixed'], true],
    [['npm', 'install'], false],
    [['npm'], false],
    [['npmtest'], false],
  ])('%j → %s', (argv, allowed) => {
    expect(checkAllowed(argv, allow).ok).toBe(allowed);
  });

  it('an entry that needs a shell never matches', () => {
    expect(checkAllowed(['npm', 'test'], ['npm test | tee log']).ok).toBe(false);
  });

  it('names the allow-list when refusing', () => {
    expect(checkAllowed(['rm', '-rf', '/'], ['npm test'])).toEqual({ ok: false, message: 'refused: this command is not in the stage\'s allow-list (allowed: "npm test")' });
  });
});

describe('run_command', () => {
  const allow = (...entries: string[]) => entries.map((e) => e.replace(/^node /, `${node} `));

  it('runs an exact allow-listed command without a shell', async () => {
    const t = tools(ws, { commands: [`${node} echo.js`] });
    expect(await t.run('run_command', { command: `${node} echo.js` })).toEqual({ ok: true, text: 'exit code 0\n--- stdout ---\n[]\n\n--- stderr ---\n' });
  });

  it('runs a prefix entry with extra arguments, passed literally', async () => {
    const t = tools(ws, { commands: allow('node echo.js *') });
    const r = await t.run('run_command', { command: `${node} echo.js --grep 'a b' "c;d" '$(touch marker)'` });
    expect(r.ok).toBe(true);
    expect(r.text).toContain('["--grep","a b","c;d","$(touch marker)"]');
    expect(existsSync(path.join(ws, 'marker'))).toBe(false);
  });

  it('reports a non-zero exit as an answer, not a tool error', async () => {
    const t = tools(ws, { commands: allow('node fail.js') });
    expect(await t.run('run_command', { command: `${node} fail.js` })).toEqual({ ok: true, text: 'exit code 3\n--- stdout ---\n\n--- stderr ---\nboom\n' });
  });

  it('refuses commands not on the list and injections, running nothing', async () => {
    const t = tools(ws, { commands: allow('node echo.js *') });
    const attempts = [
      `${node} echo.js $(touch marker)`,
      `${node} echo.js "$(touch marker)"`,
      `${node} echo.js \`touch marker\``,
      `${node} echo.js;touch marker`,
      `${node} echo.js ;rm -rf marker-dir`,
      `${node} echo.js && touch marker`,
      `${node} echo.js | touch marker`,
      `${node} echo.js > marker`,
      `${node} echo.js\ntouch marker`,
      'touch marker',
      `${node} -e "require('fs').writeFileSync('marker','x')"`,
    ];
    for (const command of attempts) {
      const r = await t.run('run_command', { command });
      expect(r.ok, command).toBe(false);
      expect(r.text, command).toMatch(/^refused: /);
    }
    await sleep(100);
    expect(existsSync(path.join(ws, 'marker'))).toBe(false);
  });

  it('refuses everything without an allow-list', async () => {
    expect(await tools(ws).run('run_command', { command: 'npm test' })).toMatchObject({ ok: false, text: expect.stringContaining('allowed: none') });
  });

  it('reports a program that cannot start', async () => {
    const t = tools(ws, { commands: ['factory-no-such-program-xyz'] });
    expect(await t.run('run_command', { command: 'factory-no-such-program-xyz' })).toEqual({ ok: false, text: 'could not start "factory-no-such-program-xyz": no such program' });
  });

  it('caps the output', async () => {
    const t = tools(ws, { commands: allow('node loud.js'), commandOutputBytes: 1000 });
    const r = await t.run('run_command', { command: `${node} loud.js` });
    expect(r.ok).toBe(true);
    expect(r.text).toMatch(/bytes omitted/);
    expect(r.text).toContain('END');
    expect(r.text.length).toBeLessThan(1200);
  });

  it('kills the whole process tree on timeout', async () => {
    const t = tools(ws, { commands: allow('node tree.js'), commandTimeoutMs: 300 });
    const r = await t.run('run_command', { command: `${node} tree.js` });
    expect(r).toMatchObject({ ok: false, text: expect.stringMatching(/^timed out after/) });
    await sleep(1500);
    expect(existsSync(path.join(ws, 'grandchild-marker'))).toBe(false);
  });

  it('kills the process tree on abort', async () => {
    const controller = new AbortController();
    const t = tools(ws, { commands: allow('node tree.js'), signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const r = await t.run('run_command', { command: `${node} tree.js` });
    expect(r).toMatchObject({ ok: false, text: expect.stringMatching(/^cancelled/) });
    await sleep(1500);
    expect(existsSync(path.join(ws, 'grandchild-marker'))).toBe(false);
  });

  it('runs with the environment given, secrets left out by default', async () => {
    const env = environmentWithoutSecrets({ PATH: 'p', FACTORY_T_PLAIN: '1', FACTORY_T_API_KEY: 's', ANTHROPIC_API_KEY: 's', GITHUB_TOKEN: 's', AWS_SECRET_ACCESS_KEY: 's', DB_PASSWORD: 's', MONKEY: 'ok' });
    expect(env).toEqual({ PATH: 'p', FACTORY_T_PLAIN: '1', MONKEY: 'ok' });
    const t = tools(ws, { commands: allow('node env.js'), commandEnv: { FACTORY_T_ONLY: '1' } });
    expect((await t.run('run_command', { command: `${node} env.js` })).text).toContain('FACTORY_T_ONLY\n');
  });
});
