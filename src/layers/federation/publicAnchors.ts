/**
 * The anchors that authenticate another domain's IRP (PROTOCOL.md §22.2.4): the Mozilla root set that
 * ships with Node (`tls.rootCertificates`), plus the certificates of the PEM file named by
 * `SIXCHAT_EXTRA_ROOTS` (a private test federation). Both IRPs of a federation session verify each other
 * under these, for `serverAuth` and the name `irp.<domain>` (§22.2.2, §22.2.5).
 */
import { readFileSync } from "node:fs"
import { rootCertificates } from "node:tls"
import { Data, Effect } from "effect"
import { pemDecode } from "../../domain/pem.js"
import * as CertVerifierLive from "../CertVerifierLive.js"

export const EXTRA_ROOTS_VARIABLE = "SIXCHAT_EXTRA_ROOTS"

/** At most this many extra roots are read (a bound on a file an operator names). */
const MAX_EXTRA_ROOTS = 64
/** And the file is at most this large. */
const MAX_EXTRA_ROOTS_BYTES = 1024 * 1024

export class PublicAnchorsError extends Data.TaggedError("PublicAnchorsError")<{ readonly message: string }> {}

/** The extra roots of `file` (PEM CERTIFICATE blocks), bounded; a clear error for a bad file. */
export const readExtraRoots = (file: string): Effect.Effect<ReadonlyArray<Uint8Array>, PublicAnchorsError> =>
  Effect.try({
    try: () => {
      const bytes = readFileSync(file)
      if (bytes.length > MAX_EXTRA_ROOTS_BYTES) throw new Error(`it is over ${MAX_EXTRA_ROOTS_BYTES} bytes`)
      const roots = pemDecode(bytes.toString("utf8"), "CERTIFICATE")
      if (roots.length === 0) throw new Error("it holds no PEM CERTIFICATE block")
      if (roots.length > MAX_EXTRA_ROOTS) throw new Error(`it holds more than ${MAX_EXTRA_ROOTS} certificates`)
      return roots
    },
    catch: (e) =>
      new PublicAnchorsError({
        message: `${EXTRA_ROOTS_VARIABLE}=${file} cannot be used: ${e instanceof Error ? e.message : String(e)}.`
      })
  })

/** Node's public roots (DER), read once. */
let publicRoots: ReadonlyArray<Uint8Array> | undefined
const nodeRoots = (): ReadonlyArray<Uint8Array> => {
  publicRoots ??= rootCertificates.flatMap((pem) => pemDecode(pem, "CERTIFICATE"))
  return publicRoots
}

/**
 * The public anchors: Node's roots plus `extraRootsFile` (default: the `SIXCHAT_EXTRA_ROOTS` variable).
 * `includeNodeRoots: false` leaves only the extra roots (tests that must not trust the Internet).
 */
export const publicAnchors = (options?: {
  readonly extraRootsFile?: string | undefined
  readonly includeNodeRoots?: boolean | undefined
}): Effect.Effect<ReadonlyArray<Uint8Array>, PublicAnchorsError> =>
  Effect.gen(function* () {
    const file = options?.extraRootsFile ?? process.env[EXTRA_ROOTS_VARIABLE]
    const extra = file === undefined || file === "" ? [] : yield* readExtraRoots(file)
    return options?.includeNodeRoots === false ? extra : [...nodeRoots(), ...extra]
  })

/** A CertVerifier over the public anchors (§22.2.4). */
export const publicVerifier = (options?: Parameters<typeof publicAnchors>[0]) =>
  Effect.flatMap(publicAnchors(options), (anchors) => CertVerifierLive.make({ anchors }))
