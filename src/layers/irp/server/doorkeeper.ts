/**
 * A doorkeeper (TinyLFU's admission filter, Einziger, Friedman and Manes 2017): remembers, approximately
 * and in a fixed few kilobytes, which keys were seen since its last reset, so that a cache admits a key
 * only on its second sighting. A key seen once in a window of uniform, one-off reads (a Lookup of each of
 * a million identities in turn) then costs the cache nothing: no entry made, none evicted, nothing kept
 * alive long enough to reach the old generation of the heap. A popular key is seen again within the window
 * and admitted.
 *
 * A Bloom filter of two bit positions per key: no allocation per call. It forgets everything after
 * `window` first sightings (the reset keeps its false positives, a key wrongly taken for seen, below ~1.5 %);
 * a false positive only admits a key one sighting early.
 */
export interface Doorkeeper {
  /** Whether `key` was seen since the last reset; records it either way. */
  readonly seenBefore: (key: string) => boolean
}

export const makeDoorkeeper = (window: number): Doorkeeper => {
  // 16 bits per key of the window: with 2 positions per key, ~1.4 % false positives when full.
  const bits = Math.max(1024, 2 ** Math.ceil(Math.log2(window * 16)))
  const words = new Uint32Array(bits >>> 5)
  const mask = bits - 1
  let firstSightings = 0
  return {
    seenBefore: (key) => {
      // FNV-1a over the UTF-16 code units, and a second position from the same hash remixed.
      let h = 0x811c9dc5
      for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
      const a = h & mask
      const b = (Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 7) & mask
      const wa = a >>> 5
      const wb = b >>> 5
      const ba = 1 << (a & 31)
      const bb = 1 << (b & 31)
      if ((words[wa]! & ba) !== 0 && (words[wb]! & bb) !== 0) return true
      if (++firstSightings > window) {
        words.fill(0)
        firstSightings = 1
      }
      words[wa]! |= ba
      words[wb]! |= bb
      return false
    }
  }
}
