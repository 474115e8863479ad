import type { RecordedRequest } from '../../support/fake-anthropic.js';
import { latestRunJson, workspaceWith } from '../../support/workspace-files.js';

export function workspace(files: Record<string, string>): string {
  return workspaceWith('factory-loop-', files);
}

export const runJson = latestRunJson;

export const posts = (requests: RecordedRequest[]) => requests.filter((r) => r.method === 'POST');
export const isJudge = (r: RecordedRequest) => (r.body as { tool_choice?: { name?: string } }).tool_choice?.name === 'submit_score';
export const hasToolResult = (r: RecordedRequest) => JSON.stringify(r.body).includes('"tool_result"');
