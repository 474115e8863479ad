import type { Command } from 'commander';
import { loadPipeline } from '../config/index.js';
import type { Pipeline, Scope, StageNode } from '../config/pipeline.js';
import { fanoutText } from '../config/fanout.js';
import { type CliIO } from '../base/io.js';
import { EXIT, ExitError } from './exit.js';
import { choice, collect } from './options.js';
import { printDiagnostics } from './print-diagnostics.js';

export function registerGraph(program: Command, io: CliIO): Command {
  return program
    .command('graph')
    .description('print the stage graph as Mermaid or Graphviz dot text')
    .argument('[file]', 'factory.yaml, or a directory holding one')
    .option('--format <format>', 'mermaid or dot', choice(['mermaid', 'dot'] as const), 'mermaid')
    .option('--set <id=value>', 'set a param (repeatable)', collect, [])
    .action((file: string | undefined, opts: { format: 'mermaid' | 'dot'; set: string[] }) => {
      const result = loadPipeline(file, { cwd: io.cwd, set: opts.set, forRun: false });
      if (!result.ok) {
        printDiagnostics(io, result.diagnostics, result.sources);
        throw new ExitError(EXIT.usage);
      }
      io.stdout.write(opts.format === 'mermaid' ? mermaid(result.pipeline) : dot(result.pipeline));
    });
}

/**
 * Node ids are generated (`n0`, `n1`, ...) so that no stage id can collide with another after
 * escaping or with a keyword of the format (`end`, `graph`, `subgraph`, `node`); the stage id is
 * the label.
 */
function nodeIds(pipeline: Pipeline): (path: string) => string {
  const ids = new Map<string, string>();
  const visit = (scope: Scope) => {
    for (const s of scope.stages) {
      ids.set(s.path, `n${ids.size}`);
      if (s.body) visit(s.body);
    }
  };
  visit(pipeline.root);
  return (path) => ids.get(path)!;
}

/** The kind, and for a fan-out stage its instances: `loop, matrix ×3` (its instances are `id[1]`…`id[3]`). */
function kindText(s: StageNode, pipeline: Pipeline): string {
  const fan = fanoutText(s.def, pipeline.params);
  return fan ? `${s.kind}, ${fan}` : s.kind;
}

/** Mermaid labels are double-quoted; a quote inside is written as an entity. */
const mermaidLabel = (text: string) => text.replace(/"/g, '#quot;');

export function mermaid(pipeline: Pipeline): string {
  const nodeId = nodeIds(pipeline);
  const lines = ['flowchart TD'];
  const visit = (scope: Scope, indent: string) => {
    for (const s of scope.stages) {
      const kind = kindText(s, pipeline);
      const label = `${mermaidLabel(s.id)}<br/><small>${kind}</small>`;
      if (s.body) {
        lines.push(`${indent}subgraph ${nodeId(s.path)}["${mermaidLabel(s.id)} (${kind})"]`);
        visit(s.body, `${indent}  `);
        lines.push(`${indent}end`);
      } else {
        lines.push(`${indent}${nodeId(s.path)}["${label}"]`);
      }
    }
    for (const s of scope.stages) {
      for (const n of s.needs) {
        const from = scope.byId.get(n)!;
        lines.push(`${indent}${nodeId(from.path)} --> ${nodeId(s.path)}`);
      }
    }
  };
  visit(pipeline.root, '  ');
  return `${lines.join('\n')}\n`;
}

export function dot(pipeline: Pipeline): string {
  const nodeId = nodeIds(pipeline);
  const lines = [`digraph ${JSON.stringify(pipeline.name)} {`, '  rankdir=TB;', '  node [shape=box, style=rounded];', '  compound=true;'];
  const anchor = new Map<string, string>();
  const visit = (scope: Scope, indent: string) => {
    for (const s of scope.stages) {
      if (s.body) {
        lines.push(`${indent}subgraph cluster_${nodeId(s.path)} {`, `${indent}  label=${JSON.stringify(`${s.id} (${kindText(s, pipeline)})`)};`);
        visit(s.body, `${indent}  `);
        lines.push(`${indent}}`);
        // Edges to and from a loop attach to its first body stage and are clipped at the cluster.
        anchor.set(s.path, nodeId(s.body.stages[0]?.path ?? s.path));
      } else {
        lines.push(`${indent}${nodeId(s.path)} [label=${JSON.stringify(`${s.id}\n${kindText(s, pipeline)}`)}];`);
        anchor.set(s.path, nodeId(s.path));
      }
    }
    for (const s of scope.stages) {
      for (const n of s.needs) {
        const from = scope.byId.get(n)!;
        const attrs = [from.body ? `ltail=cluster_${nodeId(from.path)}` : '', s.body ? `lhead=cluster_${nodeId(s.path)}` : ''].filter(Boolean);
        lines.push(`${indent}${anchor.get(from.path)} -> ${anchor.get(s.path)}${attrs.length ? ` [${attrs.join(', ')}]` : ''};`);
      }
    }
  };
  visit(pipeline.root, '  ');
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
