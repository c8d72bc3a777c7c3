/**
 * `Crl` (PROTOCOL.md §§13 and 17): the domain's X.509 CRL, signed by the issuing CA, cut into `<CrlResult>`
 * parts that each fit one record. Signing costs a signature and a full read of the revoked list, so one
 * CRL is kept until the set of revocations grows or it is `maxAge` old (well inside its nextUpdate).
 * The CRL number is the signing time in milliseconds: it grows across restarts and server processes,
 * as RFC 5280 section 5.2.3 asks.
 */
import { Clock, Duration, Effect } from "effect"
import { CRL_PART_BYTES, MAX_CRL_PARTS } from "../../../domain/irp/messages.js"
import type { RegistryError } from "../../../domain/irp/registry.js"
import type { CaError } from "../../../domain/pki/errors.js"
import type { IrpRegistryService } from "../../../services/IrpRegistry.js"
import type { CertificateAuthorityService } from "../../ca/CertificateAuthority.js"
import type { Revocations } from "./revocations.js"

export interface CrlSource {
  /** The current CRL in parts of at most `CRL_PART_BYTES`. */
  readonly parts: Effect.Effect<ReadonlyArray<Uint8Array>, RegistryError | CaError | CrlTooLarge>
}

export class CrlTooLarge {
  readonly _tag = "CrlTooLarge"
  constructor(readonly bytes: number) {}
}

export const split = (der: Uint8Array, size: number = CRL_PART_BYTES): ReadonlyArray<Uint8Array> => {
  const parts: Array<Uint8Array> = []
  for (let at = 0; at < der.length; at += size) parts.push(der.subarray(at, at + size))
  return parts
}

export const make = (
  registry: IrpRegistryService,
  ca: CertificateAuthorityService,
  revocations: Revocations,
  maxAge: Duration.DurationInput
): Effect.Effect<CrlSource> =>
  Effect.gen(function* () {
    const maxAgeMs = Duration.toMillis(maxAge)
    const lock = yield* Effect.makeSemaphore(1)
    let cached: { readonly version: number; readonly at: number; readonly parts: ReadonlyArray<Uint8Array> } | undefined

    const build = Effect.gen(function* () {
      const version = revocations.version()
      const now = yield* Clock.currentTimeMillis
      if (cached !== undefined && cached.version === version && now - cached.at < maxAgeMs) return cached.parts
      const entries = yield* registry.revokedCertificates()
      const der = yield* ca.crl(
        entries.map((e) => ({ serial: e.serial, revokedAt: new Date(e.revokedAt), reason: e.reason })),
        BigInt(now)
      )
      const parts = split(der)
      if (parts.length > MAX_CRL_PARTS) return yield* Effect.fail(new CrlTooLarge(der.length))
      cached = { version, at: now, parts }
      return parts
    })
    return { parts: lock.withPermits(1)(build) }
  })
