/**
 * What the server of `factory view` sends its page, as JSON: the records reshaped for display.
 * Types only, shared by the server (src/view) and the page (src/view/page), which the bundler
 * compiles for the browser.
 */

export type Status = 'running' | 'succeeded' | 'failed' | 'error' | 'skipped' | 'cancelled' | 'interrupted' | 'waiting' | 'pending';

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface RunRow {
  id: string;
  name: string;
  status: Status;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
  tokens: number;
  cost_usd: number;
  stages: string;
}

export interface RunsPayload {
  workspace: string;
  runs: RunRow[];
  unreadable: { id: string; error: string }[];
}

/** One stage of the graph: a loop's or a pipeline's body stages have it as `parent`. */
export interface GraphNode {
  path: string;
  kind: string;
  /** Paths of the stages it needs (same scope). */
  needs: string[];
  parent: string | null;
  status: Status;
  reason: string | null;
  message: string | null;
  started_at: string | null;
  ended_at: string | null;
  cached: boolean;
  tokens: number;
  cost_usd: number;
  /** For a body stage: the iteration its status is from (the last that ran it), as `2`, or `2.1` in nested loops. */
  iteration?: string;
  max_iterations?: number;
}

/** One bar of the timeline: a stage, or one iteration of a body stage. */
export interface TimelineBar {
  path: string;
  iteration?: string;
  status: Status;
  start: string;
  end: string | null;
}

export interface IterationRow {
  loop: string;
  iteration: string;
  stages: { path: string; status: Status; reason: string | null }[];
  satisfaction: number | null;
  tokens: number;
  cost_usd: number;
}

export interface Question {
  stage: string;
  iteration?: string;
  kind: 'approve' | 'budget';
  message: string;
  options?: { id: string; label: string; description?: string }[];
  command: string;
  since: string;
}

export interface RunPayload {
  id: string;
  name: string;
  status: Status;
  exit_code: number | null;
  started_at: string;
  ended_at: string | null;
  usage: Usage;
  cost_usd: number;
  nodes: GraphNode[];
  timeline: TimelineBar[];
  iterations: IterationRow[];
  waiting: Question[];
}

export interface ToolUse {
  id: string;
  name: string;
  input: unknown;
  result: { content: string; is_error: boolean } | null;
}

export type TranscriptItem =
  | { type: 'turn'; call: number; text: string[]; tools: ToolUse[]; stop_reason: string | null; refusal: boolean; usage: Usage | null; cost_usd: number | null }
  | { type: 'note'; text: string };

export interface DiffFile {
  path: string;
  /** Unified-diff lines (`+`, `-`, ` `, `@@`). */
  lines: string[];
}

export interface ScenarioRow {
  name: string;
  passed: boolean;
  failures: string[];
}

export interface StagePayload {
  run: string;
  path: string;
  kind: string;
  iteration?: string;
  iterations: string[];
  status: Status;
  reason: string | null;
  message: string | null;
  started_at: string | null;
  ended_at: string | null;
  attempts: number;
  cached: boolean;
  usage: Usage;
  cost_usd: number;
  outputs: Record<string, unknown>;
  prompt: string | null;
  transcript: TranscriptItem[];
  diff: { source: 'patch' | 'tool calls'; files: DiffFile[] } | null;
  findings: { severity: string; file?: string; line?: number; message: string }[];
  scenarios: ScenarioRow[];
  stdout: string | null;
  stderr: string | null;
}

/** The body of POST /api/runs/<id>/answer. */
export interface AnswerBody {
  stage: string;
  reject?: boolean;
  choice?: string;
  comment?: string;
}
