import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { RecordedRequest } from '../../support/fake-anthropic.js';
import { latestRunDir, latestRunJson, workspaceWith } from '../../support/workspace-files.js';

/** A key shaped like a real one, so both the env-name and the key-shape redaction are exercised. */
export const KEY = 'sk-ant-api03-TESTKEY0123456789abcdef';

/** The environment that points the real SDK at the fake server. */
export function apiEnv(url: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: url, ...extra };
}

/** A temp workspace with factory.yaml and the given files. */
export function workspace(yaml: string, files: Record<string, string> = {}): string {
  return workspaceWith('factory-models-', { 'factory.yaml': yaml, ...files });
}

export const runDirOf = latestRunDir;
export const runJson = latestRunJson;

/** Every file under a folder, with its text. */
export function filesUnder(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ file: p, text: readFileSync(p, 'utf8') });
    }
  };
  walk(dir);
  return out;
}

/** Model calls (`POST /v1/messages`), not token counts (`/v1/messages/count_tokens`). */
export const messagesOf = (requests: RecordedRequest[]) => requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/messages');

/** The text of a request body's user messages (and system), for "contains" checks. */
export const bodyText = (r: RecordedRequest) => JSON.stringify(r.body ?? '');

/** Whether any message of the request carries a tool_result (the agent's later turns). */
export function hasToolResult(r: RecordedRequest): boolean {
  const body = r.body as { messages?: { content: unknown }[] };
  return (body.messages ?? []).some((m) => Array.isArray(m.content) && m.content.some((b: { type?: string }) => b.type === 'tool_result'));
}

export function toolResults(r: RecordedRequest): { tool_use_id: string; content: string; is_error?: boolean }[] {
  const body = r.body as { messages: { role: string; content: unknown }[] };
  const last = body.messages[body.messages.length - 1]!;
  return Array.isArray(last.content) ? (last.content as { type: string; tool_use_id: string; content: string; is_error?: boolean }[]).filter((b) => b.type === 'tool_result') : [];
}
