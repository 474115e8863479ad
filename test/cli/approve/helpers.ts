import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { latestRunDir, latestRunJson, workspaceWith } from '../../support/workspace-files.js';

/**
 * Git and user settings for the answering identity: with `name`, a global git config that sets
 * `user.name`; without, no git name at all, so `$USER` is taken.
 */
export function identityEnv(dir: string, name?: string, user = 'ada'): NodeJS.ProcessEnv {
  let global = '/dev/null';
  if (name !== undefined) {
    global = path.join(dir, '.gitconfig-test');
    writeFileSync(global, `[user]\n\tname = ${name}\n`);
  }
  return { GIT_CONFIG_GLOBAL: global, GIT_CONFIG_NOSYSTEM: '1', USER: user };
}

/** `factory approve RUN STAGE [--dir DIR]` as printed by a waiting run, split into arguments. */
export const COMMAND = /factory approve (\S+) (\S+)(?: --dir (\S+))?/;

export function workspace(yaml: string, files: Record<string, string> = {}): string {
  return workspaceWith('factory-approve-', { 'factory.yaml': yaml, ...files });
}

export const runDirOf = latestRunDir;
export const runJson = latestRunJson;

export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
