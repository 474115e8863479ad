export type ChangeKind = 'created' | 'modified' | 'deleted';

/** The files the built-in tools changed, by workspace-relative path. The engine's snapshot stays the authority. */
export class ChangeTracker {
  private readonly changes = new Map<string, ChangeKind>();

  record(rel: string, kind: ChangeKind): void {
    const before = this.changes.get(rel);
    if (before === 'created' && kind === 'modified') return;
    if (before === 'created' && kind === 'deleted') {
      this.changes.delete(rel);
      return;
    }
    if (before === 'deleted' && kind === 'created') {
      this.changes.set(rel, 'modified');
      return;
    }
    this.changes.set(rel, kind);
  }

  /** Sorted paths. */
  paths(): string[] {
    return [...this.changes.keys()].sort();
  }

  entries(): { path: string; kind: ChangeKind }[] {
    return this.paths().map((p) => ({ path: p, kind: this.changes.get(p)! }));
  }
}
