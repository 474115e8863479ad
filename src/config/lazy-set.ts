/**
 * A read-only set computed on first use. Transitive `needs` of every stage would cost
 * stages × depth memory on a large pipeline, yet most are never asked for.
 */
export class LazySet<T> implements ReadonlySet<T> {
  private value: ReadonlySet<T> | undefined;

  constructor(private readonly compute: () => ReadonlySet<T>) {}

  private get set(): ReadonlySet<T> {
    this.value ??= this.compute();
    return this.value;
  }

  get size(): number {
    return this.set.size;
  }

  has(item: T): boolean {
    return this.set.has(item);
  }

  forEach(fn: (value: T, key: T, set: ReadonlySet<T>) => void, thisArg?: unknown): void {
    this.set.forEach((v) => fn.call(thisArg, v, v, this));
  }

  entries(): SetIterator<[T, T]> {
    return this.set.entries();
  }

  keys(): SetIterator<T> {
    return this.set.keys();
  }

  values(): SetIterator<T> {
    return this.set.values();
  }

  [Symbol.iterator](): SetIterator<T> {
    return this.set[Symbol.iterator]();
  }
}
