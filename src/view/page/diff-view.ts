import { html } from 'htm/preact';
import type { DiffFile } from '../model.js';

/** A unified diff, file by file: added lines green, removed red, hunk headers dim. */
export function DiffView({ files }: { files: DiffFile[] }) {
  return html`<div class="diff">
    ${files.map(
      (f) => html`<div class="diff-file" data-file=${f.path}>
        <div class="diff-path">${f.path}</div>
        <pre>${f.lines.map((l) => html`<div class=${l.startsWith('@@') ? 'hunk' : l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : 'ctx'}>${l || ' '}</div>`)}</pre>
      </div>`,
    )}
  </div>`;
}
