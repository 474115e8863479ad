import type { Command } from 'commander';
import { schemaText } from '../config/schema.js';
import type { CliIO } from '../base/io.js';
import { choice } from './options.js';

export function registerSchema(program: Command, io: CliIO): Command {
  return program
    .command('schema')
    .description('print the JSON Schema of factory.yaml (or of scenario files, cassettes, run records)')
    .argument('[name]', 'factory, scenario, cassette or run', choice(['factory', 'scenario', 'cassette', 'run'] as const), 'factory')
    .action((name: 'factory' | 'scenario' | 'cassette' | 'run') => {
      io.stdout.write(schemaText(name));
    });
}
