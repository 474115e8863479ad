import { truncate, visibleWidth } from './format.js';

/** How a column may give up width when a table is too wide, in the order columns give it up. */
export interface Shrink {
  /** Index of the column. */
  column: number;
  /** Fewest columns it keeps. */
  min: number;
}

/**
 * Left-aligned columns separated by two spaces, as src/cli/table.ts draws them, cut to `width`
 * when given: the `shrink` columns give up width in their order (each down to its `min`), and
 * cells cut short end with `…`. A table that cannot fit even so is drawn at its smallest.
 */
export function fitTable(header: readonly string[], rows: readonly (readonly string[])[], width: number | undefined, shrink: readonly Shrink[]): string {
  const widths = header.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ''))));
  if (width !== undefined) {
    let excess = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1) - width;
    for (const { column, min } of shrink) {
      if (excess <= 0) break;
      const w = widths[column] ?? 0;
      const give = Math.min(excess, Math.max(0, w - min));
      widths[column] = w - give;
      excess -= give;
    }
  }
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        const cut = visibleWidth(c) > w ? truncate(c, w) : c;
        return i === cells.length - 1 ? cut : cut + ' '.repeat(Math.max(0, w - visibleWidth(cut)));
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
