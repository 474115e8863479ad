import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';

/**
 * Who answers a question (the `by` output of an approve stage): git's `user.name` in that
 * directory, else `$USER` (`$USERNAME` on Windows), else the account name.
 */
export function approverName(cwd: string, env: Readonly<NodeJS.ProcessEnv>): string {
  try {
    const name = execFileSync('git', ['config', 'user.name'], { cwd, env, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (name !== '') return name;
  } catch {
    // no git, no repository, or no name configured
  }
  const fromEnv = env.USER ?? env.USERNAME;
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
