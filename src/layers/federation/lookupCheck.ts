/**
 * The home IRP's check of a foreign `LookupResult` (PROTOCOL.md §22.6): it answers for the handle asked
 * about (the client checks that), and the certificate it carries names that handle. A chain for
 * someone else, or for a handle outside the foreign domain, is a protocol error, never relayed.
 * (The User Agent still verifies the chain under the domain's root, §22.4.1.)
 */
import { Effect } from "effect"
import type { Handle } from "../../domain/brands.js"
import { handleOf } from "../../domain/cert/identity.js"
import { parseCertificate } from "../../domain/cert/parse.js"
import { type IdentityRecord, IrpClientError } from "../../services/IrpClient.js"

export const checkLookup = (
  domain: string,
  handle: Handle,
  record: IdentityRecord
): Effect.Effect<void, IrpClientError> => {
  const leaf = record.chain[0]
  if (leaf === undefined) return Effect.void
  const parsed = parseCertificate(leaf)
  const named = parsed._tag === "Parsed" ? handleOf(parsed.certificate) : undefined
  return named === handle
    ? Effect.void
    : Effect.fail(
        new IrpClientError({
          reason: "Protocol",
          message: `the IRP of ${domain} answered a Lookup of ${handle} with a certificate ${named === undefined ? "that names no handle" : `for ${named}`}`
        })
      )
}
