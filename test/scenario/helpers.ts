import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';

/** Writes scenario files under `dir/scenarios/`, one per entry, as YAML. */
export function writeScenarios(dir: string, scenarios: Record<string, unknown>[], folder = 'scenarios'): void {
  mkdirSync(path.join(dir, folder), { recursive: true });
  scenarios.forEach((s, i) => writeFileSync(path.join(dir, folder, `${String(i + 1).padStart(2, '0')}.yaml`), stringify(s)));
}

export const validate = (extra: Record<string, unknown> = {}) => ({ kind: 'scenario-validate', scenarios: 'scenarios/*.yaml', retries: 0, ...extra });
