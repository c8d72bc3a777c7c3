/**
 * The agent's CertVerifier across domains (PROTOCOL.md §22.3.2, §22.4.1): the anchor is chosen by the
 * handle's domain, never by trying every known root.
 *
 * * A handle of our own domain (or no handle: an IRP server's name) goes to the verifier of the context,
 *   which trusts our domain's root (`ca.pem`), exactly as before.
 * * A handle `h@D` of another domain — the handle we dial (`expectedHandle`), or the one the leaf names
 *   when a peer dials us — is verified by a verifier whose only anchor is D's pinned root
 *   (`DomainRoots.rootFor`: the pin, or fetched through our IRP and pinned). One verifier per root is
 *   kept. When the chain does not lead to the pinned root, the root is fetched again (at most once a minute
 *   per domain): a domain whose CA changed is a domain key change, accepted or held as the store says.
 * * When D's root cannot be had (our IRP refuses: policy, unreachable; or the change is held), the chain
 *   is refused as `UnknownIssuer` (alert `unknown_ca`) with a log line saying why.
 *
 * It wraps the handshake's verifier (a decorator, like `revocationChecked`): the handshake is unchanged,
 * and the root lookup runs inside the handshake's own deadline (§6.7).
 */
import { Effect } from "effect"
import type { DomainName } from "../../../domain/agent/domainRoots.js"
import { handleDomain } from "../../../domain/brands.js"
import { handleOf } from "../../../domain/cert/identity.js"
import { parseCertificate } from "../../../domain/cert/parse.js"
import { CertError, type VerifyRequest } from "../../../domain/cert/verify.js"
import type { CertVerifierService } from "../../../services/CertVerifier.js"
import type { DomainRootsService } from "../../../services/DomainRoots.js"
import * as CertVerifierLive from "../../CertVerifierLive.js"

/** Verifiers kept, one per foreign root (least recently used dropped first). */
const MAX_VERIFIERS = 64

export interface FederatedVerifierConfig {
  readonly ownDomain: string
  readonly roots: DomainRootsService
  /** How a verifier for one anchor is made (default `CertVerifierLive.make`). */
  readonly anchored?: ((anchor: Uint8Array) => Effect.Effect<CertVerifierService, CertError>) | undefined
}

/** The domain whose root must verify this request, or `undefined` for ours. */
export const foreignDomainOf = (request: VerifyRequest, ownDomain: string): DomainName | undefined => {
  if (request.expectedDnsName !== undefined) return undefined
  let handle = request.expectedHandle
  if (handle === undefined) {
    const leaf = request.chain[0]
    if (leaf === undefined) return undefined
    const parsed = parseCertificate(leaf)
    // An unreadable leaf is the own verifier's to refuse, with its own sentence.
    if (parsed._tag !== "Parsed") return undefined
    handle = handleOf(parsed.certificate)
  }
  if (handle === undefined) return undefined
  const domain = handleDomain(handle).toLowerCase()
  return domain === ownDomain.toLowerCase() ? undefined : (domain as DomainName)
}

const base64 = (der: Uint8Array) => Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64")

export const federatedVerifier = (own: CertVerifierService, config: FederatedVerifierConfig): CertVerifierService => {
  const anchored = config.anchored ?? ((anchor: Uint8Array) => CertVerifierLive.make({ anchors: [anchor] }))
  const verifiers = new Map<string, CertVerifierService>()

  const verifierFor = (root: Uint8Array) =>
    Effect.suspend(() => {
      const key = base64(root)
      const hit = verifiers.get(key)
      if (hit !== undefined) {
        verifiers.delete(key)
        verifiers.set(key, hit)
        return Effect.succeed(hit)
      }
      return Effect.map(anchored(root), (made) => {
        verifiers.set(key, made)
        if (verifiers.size > MAX_VERIFIERS) verifiers.delete(verifiers.keys().next().value as string)
        return made
      })
    })

  const noRoot = (domain: DomainName, why: string) =>
    Effect.zipRight(
      Effect.logWarning(`agent: a certificate of ${domain} is refused: ${why}`),
      Effect.fail(
        new CertError({
          reason: "UnknownIssuer",
          message: `The CA of ${domain} is not available to check this certificate: ${why}`,
          depth: 0
        })
      )
    )

  const verifyForeign = (request: VerifyRequest, domain: DomainName) =>
    Effect.gen(function* () {
      const root = yield* Effect.either(config.roots.rootFor(domain))
      if (root._tag === "Left") return yield* noRoot(domain, root.left.message)
      const first = yield* Effect.either(Effect.flatMap(verifierFor(root.right), (v) => v.verify(request)))
      if (first._tag === "Right") return first.right
      if (first.left.reason !== "UnknownIssuer" && first.left.reason !== "BadSignature") return yield* first.left
      // The chain does not lead to the pinned root: perhaps D's CA changed (§22.3.3); ask our IRP.
      const fresh = yield* Effect.either(config.roots.refresh(domain))
      if (fresh._tag === "Left") return yield* noRoot(domain, fresh.left.message)
      if (fresh.right === undefined) {
        yield* Effect.logWarning(
          `agent: a certificate naming someone of ${domain} does not chain to the pinned CA of ${domain}: refused (${first.left.message})`
        )
        return yield* first.left
      }
      return yield* Effect.flatMap(verifierFor(fresh.right), (v) => v.verify(request))
    })

  return {
    verify: (request) => {
      const domain = foreignDomainOf(request, config.ownDomain)
      return domain === undefined ? own.verify(request) : verifyForeign(request, domain)
    }
  }
}
