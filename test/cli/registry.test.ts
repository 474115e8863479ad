/**
 * registry.ts loads a command's file by the name in its table: each name must be the name that
 * file gives its command, and the first argument selects only that command.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandLoaders, loadCommands } from '../../src/cli/registry.js';
import { processIO } from '../../src/base/io.js';

describe('the command registry', () => {
  it('each name is the name of the command its file registers', async () => {
    for (const [name, load] of commandLoaders) {
      const program = new Command('factory');
      const sub = (await load())(program, processIO());
      expect(sub.name()).toBe(name);
    }
  });

  it('the first argument naming a command loads that one alone; anything else loads all, in order', async () => {
    expect(await loadCommands(['validate', 'x.yaml'])).toHaveLength(1);
    const all = await loadCommands(['--help']);
    expect(all).toHaveLength(commandLoaders.size);
    const names = all.map((register) => register(new Command('factory'), processIO()).name());
    expect(names).toEqual([...commandLoaders.keys()]);
    expect(await loadCommands([])).toHaveLength(commandLoaders.size);
    expect(await loadCommands(['__proto__'])).toHaveLength(commandLoaders.size);
  });
});
