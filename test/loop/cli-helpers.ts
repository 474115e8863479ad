import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RecordedRequest } from '../support/fake-anthropic.js';
import { latestRunJson, workspaceWith } from '../support/workspace-files.js';

export const BIN = fileURLToPath(new URL('../../bin/factory.js', import.meta.url));

export function requireBuild(): void {
  if (!existsSync(fileURLToPath(new URL('../../dist/bundle/factory.js', import.meta.url)))) throw new Error('dist/ is missing: run `npm run build` first');
}

export interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI, spawned without blocking (the fake server answers from this process). */
export function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Done> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', CI: '1', FACTORY_RETRY_BASE_MS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function workspace(files: Record<string, string>): string {
  return workspaceWith('factory-loop-', files);
}

export const runJson = latestRunJson;

export const posts = (requests: RecordedRequest[]) => requests.filter((r) => r.method === 'POST');
export const isJudge = (r: RecordedRequest) => (r.body as { tool_choice?: { name?: string } }).tool_choice?.name === 'submit_score';
export const hasToolResult = (r: RecordedRequest) => JSON.stringify(r.body).includes('"tool_result"');
