/**
 * One copy of each certificate's DER per serial, shared by every answer that carries it (issue 15).
 *
 * Every registry read hands over a fresh copy of a certificate's DER, and the encoder's base64 cache
 * (`xmlWrite.ts`, keyed by array) would miss on each of them: a Lookup of a popular handle would encode
 * the same ~1 KB again every time. A certificate is immutable (a serial names one certificate of the
 * domain's CA for ever), so answers may carry the copy kept here; a read whose bytes differ from the
 * kept ones (which would mean another CA's certificate under the same serial) replaces it, so what is
 * sent is always what was read. It caches neither bindings nor status: a Lookup still reflects every
 * change committed before its read (PROTOCOL.md §17.6.2). Bounded: the least recently used go first.
 *
 * A serial is kept only on its second sighting within a window (`doorkeeper.ts`). Lookups spread evenly
 * over a registry much larger than the bound (a million identities, 4,096 kept) would otherwise replace a
 * kept copy on nearly every read: a new entry, a Buffer view and a base64 text made and kept alive for
 * thousands of reads, long enough to be promoted to the old generation and collected by full GCs, for
 * hit rates well under 1 % (issue 15: `scale_ratio`). A small or skewed population is seen again within
 * the window and hits as before.
 */
import { makeDoorkeeper } from "./doorkeeper.js"

export interface CertificateCopies {
  /** The kept copy of `der` (equal bytes), or `der` itself (kept if its serial was seen before). */
  readonly shared: (serial: string, der: Uint8Array) => Uint8Array
  readonly size: () => number
}

interface Copy {
  readonly der: Uint8Array
  /** A Buffer view of `der`, made once, for the native comparison. */
  readonly view: Buffer
}

/** `maxEntries` 0 keeps nothing (every read's copy is handed on). */
export const makeCertificateCopies = (maxEntries: number): CertificateCopies => {
  // A Map iterates in insertion order: re-inserting on a hit makes its first key the least recently used.
  const copies = new Map<string, Copy>()
  // A window of twice the bound: a serial read twice among ~2 × maxEntries other first sightings is kept.
  const doorkeeper = makeDoorkeeper(2 * Math.max(1, maxEntries))
  const keep = (serial: string, der: Uint8Array) => {
    copies.set(serial, { der, view: Buffer.from(der.buffer, der.byteOffset, der.length) })
    if (copies.size > maxEntries) copies.delete(copies.keys().next().value as string)
    return der
  }
  return {
    shared: (serial, der) => {
      if (maxEntries <= 0) return der
      const kept = copies.get(serial)
      if (kept === undefined) return doorkeeper.seenBefore(serial) ? keep(serial, der) : der
      copies.delete(serial)
      if (kept.der.length === der.length && kept.view.equals(der)) {
        copies.set(serial, kept)
        return kept.der
      }
      return keep(serial, der)
    },
    size: () => copies.size
  }
}
