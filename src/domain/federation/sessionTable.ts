/**
 * The table of foreign domains an IRP keeps state for (PROTOCOL.md §22.6): at most `capacity` of them,
 * in order of last use. Storing a new one into a full table drops the least recently used entry that is
 * idle (no request, dial or watch in progress, as `busy` says), or the least recently used one when
 * every entry is busy: the table never grows past its bound. The caller closes what was dropped.
 *
 * Pure (a data structure; no I/O, no clock).
 */
export class SessionTable<K, V> {
  /** A Map iterates in insertion order: re-inserting on use keeps the least recently used first. */
  private readonly entries = new Map<K, V>()

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("the capacity is a positive integer")
  }

  get size(): number {
    return this.entries.size
  }

  /** The entry under `key`, now the most recently used. */
  use(key: K): V | undefined {
    const value = this.entries.get(key)
    if (value !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  /** The entry under `key`, its place unchanged. */
  peek(key: K): V | undefined {
    return this.entries.get(key)
  }

  /**
   * Stores `value` under `key` as the most recently used entry; returns the entries dropped to stay
   * within the capacity (idle ones first, each time the least recently used).
   */
  store(key: K, value: V, busy: (value: V) => boolean = () => false): Array<readonly [K, V]> {
    this.entries.delete(key)
    const dropped: Array<readonly [K, V]> = []
    while (this.entries.size >= this.capacity) {
      let victim: K | undefined
      for (const [k, v] of this.entries)
        if (!busy(v)) {
          victim = k
          break
        }
      victim ??= this.entries.keys().next().value as K
      dropped.push([victim, this.entries.get(victim) as V])
      this.entries.delete(victim)
    }
    this.entries.set(key, value)
    return dropped
  }

  /** Removes `key` when it still holds `value`. */
  remove(key: K, value: V): void {
    if (this.entries.get(key) === value) this.entries.delete(key)
  }

  /** Least recently used first. */
  values(): IterableIterator<V> {
    return this.entries.values()
  }
}
