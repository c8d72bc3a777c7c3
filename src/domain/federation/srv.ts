/**
 * RFC 2782 target selection (PROTOCOL.md §21.3): lowest priority first; within one priority a
 * weighted random order, where a record of weight w is picked next with probability w / (sum of the
 * weights left), and records of weight 0 have a very small chance (they are put first in the list
 * before each draw, as RFC 2782 prescribes, so they are picked only when the draw is 0).
 *
 * Pure: the randomness comes in as a 32-bit seed, expanded with mulberry32, so a seed reproduces an
 * order (the live layer draws the seed per lookup).
 */
import { isRootTarget, type SrvRecord } from "./discovery.js"

/** A small deterministic generator in [0, 1) from a 32-bit seed (mulberry32). */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** One priority group in RFC 2782 weighted order. `random` returns values in [0, 1). */
const weightedOrder = (group: ReadonlyArray<SrvRecord>, random: () => number): Array<SrvRecord> => {
  // "arrange all SRV RRs (that have not been ordered yet) in any order, except that all those with
  // weight 0 are placed at the beginning of the list"
  const left = [...group.filter((r) => r.weight === 0), ...group.filter((r) => r.weight > 0)]
  const out: Array<SrvRecord> = []
  while (left.length > 0) {
    const total = left.reduce((s, r) => s + r.weight, 0)
    // "choose a uniform random number between 0 and the sum computed (inclusive)"
    const draw = Math.floor(random() * (total + 1))
    let running = 0
    let index = left.length - 1
    for (let i = 0; i < left.length; i++) {
      running += left[i]!.weight
      if (running >= draw) {
        index = i
        break
      }
    }
    out.push(left[index]!)
    left.splice(index, 1)
  }
  return out
}

/** The outcome of ordering a set of SRV records. */
export type SrvOrder =
  | { readonly _tag: "Ordered"; readonly records: ReadonlyArray<SrvRecord> }
  /** The only record has target "." (RFC 2782: "decidedly not available"). */
  | { readonly _tag: "Refused" }

/**
 * Orders SRV records for dialling. A lone "." target is a refusal; "." records next to real ones
 * are ignored (they name no host to try). Duplicate (target, port) pairs keep their first copy.
 */
export const orderSrv = (records: ReadonlyArray<SrvRecord>, seed: number): SrvOrder => {
  const real = records.filter((r) => !isRootTarget(r.target))
  if (real.length === 0) return { _tag: "Refused" }
  const seen = new Set<string>()
  const unique = real.filter((r) => {
    const key = `${r.target.toLowerCase()}|${r.port}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
  const random = seededRandom(seed)
  const priorities = [...new Set(unique.map((r) => r.priority))].sort((a, b) => a - b)
  const ordered = priorities.flatMap((p) =>
    weightedOrder(
      unique.filter((r) => r.priority === p),
      random
    )
  )
  return { _tag: "Ordered", records: ordered }
}
