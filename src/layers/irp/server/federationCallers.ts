/**
 * Who may be on the other end of an IRP connection (PROTOCOL.md §22.2.5): a `CertVerifier` composed of
 * the domain's own (a local user, 17.1.3) and, when federation is not `closed`, one over the public
 * anchors (§22.2.4) for another domain's IRP. The handshake driver calls it like any verifier; the
 * session then asks `domainOf` which domain's IRP a verified certificate names.
 *
 * A client chain is verified under the domain root first. Only when that finds no path to the root
 * (`UnknownIssuer`) is it tried under the public anchors, for `serverAuth` (public CAs no longer issue
 * `clientAuth` to servers; the CertificateVerify signature binds the key to the transcript). The leaf must
 * then carry exactly one dNSName `irp.X` with X a domain name (§21.1) other than this domain's own;
 * anything else is refused as `IdentityMismatch`. A chain of the domain's own CA that fails for any
 * other reason (revoked, expired, wrong purpose) is never retried under the public anchors.
 */
import { Effect } from "effect"
import { CertError, type VerifiedCertificate } from "../../../domain/cert/verify.js"
import { normalizeDomain } from "../../../domain/federation/discovery.js"
import type { CertVerifierService } from "../../../services/CertVerifier.js"

export interface FederationCallers {
  readonly verifier: CertVerifierService
  /** The domain X of a chain this verifier accepted under the public anchors; `undefined` for any other. */
  readonly domainOf: (certificate: VerifiedCertificate) => string | undefined
}

/** The one `irp.X` of `dnsNames` (X a domain name), or why there is none. */
export const federationDomainOf = (dnsNames: ReadonlyArray<string>): string | { readonly problem: string } => {
  const domains = new Set<string>()
  for (const name of dnsNames) {
    if (!name.startsWith("irp.")) continue
    const domain = normalizeDomain(name.slice(4))
    if (domain !== undefined && domain === name.slice(4)) domains.add(domain)
  }
  if (domains.size === 1) return [...domains][0]!
  return {
    problem:
      domains.size === 0
        ? "it names no IRP (a dNSName irp.<domain>)"
        : `it names ${domains.size} IRPs (${[...domains].map((d) => `irp.${d}`).join(", ")}), not one`
  }
}

export const make = (options: {
  /** The domain's own verifier (its root, live revocation). */
  readonly local: CertVerifierService
  /** Over the public anchors; `undefined` when federation is closed (then only local users connect). */
  readonly publicAnchors: CertVerifierService | undefined
  /** This server's domain: a public certificate for `irp.<it>` is no federation caller. */
  readonly ownDomain: string
}): FederationCallers => {
  const { local, publicAnchors, ownDomain } = options
  if (publicAnchors === undefined) return { verifier: local, domainOf: () => undefined }
  // Proofs made by the public verifier, with the domain they name; weak, so they go with their session.
  const federated = new WeakMap<VerifiedCertificate, string>()
  const underPublicAnchors = (request: Parameters<CertVerifierService["verify"]>[0]) =>
    Effect.flatMap(publicAnchors.verify({ ...request, purpose: "server-auth" }), (verified) => {
      const domain = federationDomainOf(verified.dnsNames)
      if (typeof domain !== "string")
        return Effect.fail(
          new CertError({
            reason: "IdentityMismatch",
            message: `The publicly trusted certificate cannot identify another domain's IRP: ${domain.problem}.`,
            depth: 0
          })
        )
      if (domain === ownDomain)
        return Effect.fail(
          new CertError({
            reason: "IdentityMismatch",
            message: `The certificate names irp.${ownDomain}, this domain's own IRP, not another domain's.`,
            depth: 0
          })
        )
      federated.set(verified, domain)
      return Effect.succeed(verified)
    })
  return {
    verifier: {
      verify: (request) =>
        Effect.catchIf(
          local.verify(request),
          // Only a chain that does not lead to the domain root at all may be another domain's IRP.
          (e) => e.reason === "UnknownIssuer" && request.expectedHandle === undefined,
          (e) =>
            Effect.mapError(underPublicAnchors(request), (publicError) =>
              publicError.reason === "UnknownIssuer" ? e : publicError
            )
        )
    },
    domainOf: (certificate) => federated.get(certificate)
  }
}
