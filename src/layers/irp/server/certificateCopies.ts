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
 */
export interface CertificateCopies {
  /** The kept copy of `der` (equal bytes), or `der` itself, now kept. */
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
  return {
    shared: (serial, der) => {
      if (maxEntries <= 0) return der
      const kept = copies.get(serial)
      copies.delete(serial)
      const copy =
        kept !== undefined && kept.der.length === der.length && kept.view.equals(der)
          ? kept
          : { der, view: Buffer.from(der.buffer, der.byteOffset, der.length) }
      copies.set(serial, copy)
      if (copies.size > maxEntries) copies.delete(copies.keys().next().value as string)
      return copy.der
    },
    size: () => copies.size
  }
}
