/**
 * Byte strings the IRP carries (certificates, CSRs, staples, CRL parts) and their bounds. Pure; apart
 * from `./messages.ts` so that message modules beside it (`./domainInfo.ts`) share them without a cycle.
 */
import { Schema } from "effect"

/** Largest DER certificate and CSR carried (matches `MAX_CSR_BYTES` and the E2E `<Cert>` bound). */
export const MAX_DER_BYTES = 8192

export const bytesUpTo = (min: number, max: number) =>
  Schema.Uint8ArrayFromSelf.pipe(
    Schema.filter((b) => (b.length >= min && b.length <= max) || `expected ${min} to ${max} bytes, got ${b.length}`)
  )

/** A DER object (certificate, CSR) as carried. */
export const Der = bytesUpTo(1, MAX_DER_BYTES)
