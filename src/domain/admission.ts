/**
 * Fair admission of connections that have not finished their handshake (issue 10 §4; PROTOCOL.md
 * §6.7, §15.7 and §17.1.7). An unauthenticated connection costs the server a descriptor, a buffer and a
 * handshake timer for up to the handshake limit, and proves nothing about who holds it, so both servers
 * (the User Agent's listener and the IRP) bound them in two ways:
 *
 * * **Per source** (`sourceKey`: an IPv4 address, an IPv6 /64): at most `perSource` at once. One more
 *   from that source is refused (closed at once); the ones it holds keep their chance. This is
 *   OpenSSH's `PerSourceMaxStartups` (with `PerSourceNetBlockSize 32:64`) and nginx's `limit_conn`.
 * * **In total**: at most `total` at once. When full, the source holding the most slots (the newcomer
 *   counted) loses its oldest one to the newcomer: "longest queue drop", the fair buffer policy of
 *   router queues. A single flooding source therefore never holds more than `perSource`, and many
 *   flooding sources only displace each other's oldest (soonest to time out anyway) connections, while a
 *   legitimate handshake, which takes milliseconds, is almost never the oldest in the table.
 *
 * Pure bookkeeping: no I/O, no clock; entries are ordered by admission.
 */

export interface AdmissionLimits {
  /** Unauthenticated connections at once from one source (at least 1). */
  readonly perSource: number
  /** Unauthenticated connections at once in all (at least 1). */
  readonly total: number
}

export type Admission<T> =
  | { readonly _tag: "Admitted"; readonly evicted: T | undefined }
  | { readonly _tag: "Refused"; readonly held: number }

interface Entry<T> {
  readonly item: T
  readonly order: number
}

export class AdmissionTable<T> {
  private readonly bySource = new Map<string, Array<Entry<T>>>()
  private count = 0
  private next = 0
  private readonly perSource: number
  private readonly total: number

  constructor(limits: AdmissionLimits) {
    this.perSource = Math.max(1, Math.floor(limits.perSource))
    this.total = Math.max(1, Math.floor(limits.total))
  }

  /** Unauthenticated connections held now. */
  get size(): number {
    return this.count
  }

  /** How many `source` holds now. */
  heldBy(source: string): number {
    return this.bySource.get(source)?.length ?? 0
  }

  /**
   * Admits `item` from `source`, or refuses it (the source is at its cap). When the table is full, the
   * admitted item takes the slot of `evicted`, which the caller must close; it is no longer in the table.
   */
  admit(source: string, item: T): Admission<T> {
    const own = this.bySource.get(source)
    const held = own?.length ?? 0
    if (held >= this.perSource) return { _tag: "Refused", held }
    const evicted = this.count >= this.total ? this.evictFor(source, held + 1) : undefined
    const entry = { item, order: this.next++ }
    if (own === undefined) this.bySource.set(source, [entry])
    else own.push(entry)
    this.count++
    return { _tag: "Admitted", evicted }
  }

  /** Forgets `item` (its handshake ended, either way); `false` when it was not held (already evicted). */
  remove(source: string, item: T): boolean {
    const list = this.bySource.get(source)
    if (list === undefined) return false
    const i = list.findIndex((e) => e.item === item)
    if (i < 0) return false
    list.splice(i, 1)
    if (list.length === 0) this.bySource.delete(source)
    this.count--
    return true
  }

  /**
   * Longest queue drop: the source with the most slots (the newcomer's source counted with `wouldHold`)
   * loses its oldest entry; among sources holding as many, the one whose oldest entry is oldest.
   */
  private evictFor(source: string, wouldHold: number): T | undefined {
    let victim: string | undefined
    let most = 0
    let oldest = Number.POSITIVE_INFINITY
    for (const [key, list] of this.bySource) {
      const n = key === source ? wouldHold : list.length
      const first = list[0]!.order
      if (n > most || (n === most && first < oldest)) {
        victim = key
        most = n
        oldest = first
      }
    }
    if (victim === undefined) return undefined
    const list = this.bySource.get(victim)!
    const dropped = list.shift()!
    if (list.length === 0) this.bySource.delete(victim)
    this.count--
    return dropped.item
  }
}
