/**
 * CertVerifier over node:crypto (PROTOCOL.md §13): parses with `domain/cert/parse`, builds paths
 * with `domain/cert/path`, validates with `domain/cert/validate`, and verifies every signature
 * with `node:crypto.verify` over the TBS bytes exactly as received.
 *
 * This runs on every handshake, so issuer keys are imported once: anchors when the layer is
 * built, intermediates through a small LRU keyed by their SubjectPublicKeyInfo.
 */
import { constants, createHash, createPublicKey, type KeyObject, verify as nodeVerify } from "node:crypto"
import { Effect, Layer } from "effect"
import type { Fingerprint } from "../domain/brands.js"
import { type KeyKind, keyKind, schemeFitsKey, signatureScheme } from "../domain/cert/algorithms.js"
import { dnsNamesOf, handleOf } from "../domain/cert/identity.js"
import { NAME_CONSTRAINT_BUDGET } from "../domain/cert/nameConstraints.js"
import { formatName } from "../domain/cert/names.js"
import {
  MAX_CERTIFICATE_BYTES,
  type ParsedCertificate,
  type ParseResult,
  parseCertificate
} from "../domain/cert/parse.js"
import {
  buildPaths,
  MAX_SEARCH_STEPS,
  newSearchState,
  SEARCH_BUDGET,
  type SearchState,
  type SignatureCheck
} from "../domain/cert/path.js"
import { describe, validatePath } from "../domain/cert/validate.js"
import {
  CertError,
  certifyVerified,
  type RevocationSource,
  type VerifiedCertificate,
  type VerifyRequest
} from "../domain/cert/verify.js"
import { CertVerifier, type CertVerifierService } from "../services/CertVerifier.js"

export interface CertVerifierOptions {
  /** DER trust anchors (PROTOCOL.md §13: "a configured trust anchor"). */
  readonly anchors: ReadonlyArray<Uint8Array>
  readonly revocation?: RevocationSource | undefined
  /** Verified signatures remembered (default 1024; 0 turns the cache off). */
  readonly signatureCacheSize?: number | undefined
}

/** Default for `VerifyRequest.maxIntermediates`: leaf + 3 intermediates = "at most 4 deep" (PROTOCOL.md §13). */
export const DEFAULT_MAX_INTERMEDIATES = 3
/** A presented chain longer than this is refused unread. */
export const MAX_CHAIN_LENGTH = 16
/** Complete paths validated before giving up on alternatives. */
const MAX_PATHS_TRIED = 8
/** Parsed certificates remembered by their DER (leaves and intermediates of recent peers). */
const PARSE_CACHE_SIZE = 256
/** RSA keys shorter than this are refused as unsupported. */
const MIN_RSA_BITS = 2048

interface IssuerKey {
  readonly kind: KeyKind | undefined
  readonly key: KeyObject | undefined
}

const importKey = (cert: ParsedCertificate): IssuerKey => {
  const kind = keyKind(cert.publicKeyAlgorithm)
  if (kind === undefined) return { kind, key: undefined }
  try {
    const key = createPublicKey({ key: Buffer.from(cert.spki), format: "der", type: "spki" })
    const bits = key.asymmetricKeyDetails?.modulusLength
    if ((kind.kind === "rsa" || kind.kind === "rsa-pss") && (bits === undefined || bits < MIN_RSA_BITS))
      return { kind: undefined, key: undefined }
    return { kind, key }
  } catch {
    return { kind, key: undefined }
  }
}

/** A tiny LRU over a Map (whose iteration order is insertion order). */
const makeLru = <V>(capacity: number) => {
  const entries = new Map<string, V>()
  return {
    get: (id: string): V | undefined => {
      const hit = entries.get(id)
      if (hit !== undefined) {
        entries.delete(id)
        entries.set(id, hit)
      }
      return hit
    },
    set: (id: string, v: V): void => {
      entries.set(id, v)
      if (entries.size > capacity) entries.delete(entries.keys().next().value!)
    }
  }
}

const base64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

const verifyWith = (child: ParsedCertificate, issuer: IssuerKey): SignatureCheck => {
  const scheme = signatureScheme(child.signatureAlgorithm)
  if (scheme === undefined || issuer.kind === undefined) return "unsupported"
  if (!schemeFitsKey(scheme, issuer.kind) || issuer.key === undefined) return "bad"
  const key = issuer.key
  try {
    switch (scheme.kind) {
      case "rsa-pkcs1":
        return nodeVerify(scheme.hash, child.tbs, { key, padding: constants.RSA_PKCS1_PADDING }, child.signature)
          ? "ok"
          : "bad"
      case "rsa-pss":
        return nodeVerify(
          scheme.hash,
          child.tbs,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength },
          child.signature
        )
          ? "ok"
          : "bad"
      case "ecdsa":
        return nodeVerify(scheme.hash, child.tbs, { key, dsaEncoding: "der" }, child.signature) ? "ok" : "bad"
      case "ed25519":
        return nodeVerify(null, child.tbs, key, child.signature) ? "ok" : "bad"
    }
  } catch {
    // A signature that is not even well-formed (bad DER, wrong length) simply does not verify.
    return "bad"
  }
}

const buildFailureError = (search: SearchState, leaf: ParsedCertificate, maxDepth: number): CertError => {
  if (search.exhausted)
    return new CertError({
      reason: "LimitExceeded",
      message: `Building a path for ${describe(leaf)} needs more work than this verifier allows (${SEARCH_BUDGET} signature checks, ${MAX_SEARCH_STEPS} search steps), so the chain is refused; present only the chain to the trust anchor.`
    })
  const f = search.current
  const c = f?.certificate ?? leaf
  const depth = f?.depth ?? 0
  switch (f?.reason) {
    case "BadSignature":
      return new CertError({
        reason: "BadSignature",
        message: `The signature on the certificate ${describe(c)} does not verify with the key of its issuer "${formatName(c.issuer)}".`,
        depth
      })
    case "UnsupportedAlgorithm":
      return new CertError({
        reason: "UnsupportedAlgorithm",
        message: `The certificate ${describe(c)} is signed with an algorithm or an issuer key this verifier does not support (signature ${c.signatureAlgorithm.oid}); use ECDSA P-256/P-384/P-521, Ed25519, or RSA of 2048 bits or more (PKCS#1 v1.5 or PSS) with SHA-256/384/512.`,
        depth
      })
    case "ChainTooLong":
      return new CertError({
        reason: "ChainTooLong",
        message: `The chain of ${describe(leaf)} needs more than ${maxDepth} intermediate certificates to reach a trust anchor.`,
        depth
      })
    default:
      return new CertError({
        reason: "UnknownIssuer",
        message: `The certificate ${describe(c)} was issued by "${formatName(c.issuer)}", which is neither a configured trust anchor nor among the intermediate certificates presented.`,
        depth
      })
  }
}

const sha256Hex = (bytes: Uint8Array): Fingerprint => createHash("sha256").update(bytes).digest("hex") as Fingerprint

const sha256Base64 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("base64")

/** The verifier as a plain function: `at` in epoch milliseconds (whole seconds). */
export const makeVerifySync = (options: CertVerifierOptions) => {
  const { anchors: anchorsDer, revocation, signatureCacheSize = 1024 } = options
  const anchors: Array<ParsedCertificate> = []
  const anchorKeys = new Map<ParsedCertificate, IssuerKey>()
  anchorsDer.forEach((der, i) => {
    const parsed = parseCertificate(der)
    if (parsed._tag === "TooLarge")
      throw new CertError({
        reason: "LimitExceeded",
        message: `Trust anchor ${i + 1} is ${parsed.size} bytes long; certificates over ${MAX_CERTIFICATE_BYTES} bytes are refused unread.`
      })
    if (parsed._tag === "Malformed")
      throw new CertError({
        reason: "Malformed",
        message: `Trust anchor ${i + 1} is not a well-formed DER X.509 certificate (${parsed.detail}).`
      })
    anchors.push(parsed.certificate)
    anchorKeys.set(parsed.certificate, importKey(parsed.certificate))
  })
  // Intermediates' keys, imported once per SPKI.
  const intermediateKeys = makeLru<IssuerKey>(256)
  // Ids (base64 of the SPKI, SHA-256 of the DER) of the certificates this verifier keeps: the anchors
  // and the remembered parses, whose bytes are private copies that nothing writes to. A certificate
  // parsed for one request only (not remembered) gets its ids computed afresh (issue 15).
  const spkiIds = new WeakMap<ParsedCertificate, string>()
  const derIds = new WeakMap<ParsedCertificate, string>()
  const fingerprints = new WeakMap<ParsedCertificate, Fingerprint>()
  const spkiIdOf = (c: ParsedCertificate): string => spkiIds.get(c) ?? base64(c.spki)
  const derIdOf = (c: ParsedCertificate): string => derIds.get(c) ?? sha256Base64(c.der)
  const fingerprintOf = (c: ParsedCertificate): Fingerprint => fingerprints.get(c) ?? sha256Hex(c.spki)
  const remember = (c: ParsedCertificate): void => {
    spkiIds.set(c, base64(c.spki))
    derIds.set(c, sha256Base64(c.der))
    fingerprints.set(c, sha256Hex(c.spki))
  }
  for (const anchor of anchors) remember(anchor)
  const issuerKey = (issuer: ParsedCertificate): IssuerKey => {
    const anchor = anchorKeys.get(issuer)
    if (anchor !== undefined) return anchor
    const id = spkiIdOf(issuer)
    const cached = intermediateKeys.get(id)
    if (cached !== undefined) return cached
    const fresh = importKey(issuer)
    intermediateKeys.set(id, fresh)
    return fresh
  }
  // Signatures already seen to verify, keyed by SHA-256(child DER) and the issuer's SPKI: every
  // peer of a domain presents the same issuing-CA certificate, and a peer reconnects with the
  // same leaf. Only successes are kept; the same bytes verify the same way under the same key.
  const verified = makeLru<true>(signatureCacheSize)
  const checkSignature = (child: ParsedCertificate, issuer: ParsedCertificate): SignatureCheck => {
    if (signatureCacheSize <= 0) return verifyWith(child, issuerKey(issuer))
    const id = `${derIdOf(child)}|${spkiIdOf(issuer)}`
    if (verified.get(id) === true) return "ok"
    const result = verifyWith(child, issuerKey(issuer))
    if (result === "ok") verified.set(id, true)
    return result
  }
  // Parsed certificates by their exact DER (issue 15): a peer reconnects with the same leaf and the
  // same intermediates, and parsing is a pure function of the bytes. Only the parse is remembered:
  // path building, every signature (unless `signatureCacheSize` says otherwise), validity times,
  // names, revocation and the identity are checked on every request as before. The cached parse reads
  // a private copy, so a caller that reuses its buffer cannot change a remembered certificate.
  const parses = makeLru<ParsedCertificate>(PARSE_CACHE_SIZE)
  const parseCached = (der: Uint8Array, earlier: ReadonlyArray<ParsedCertificate>): ParseResult => {
    if (der.length > MAX_CERTIFICATE_BYTES) return parseCertificate(der)
    const id = base64(der)
    const hit = parses.get(id)
    // A certificate presented twice in one chain stays two objects, as without the cache (path
    // building tells certificates apart by identity).
    if (hit !== undefined && !earlier.includes(hit)) return { _tag: "Parsed", certificate: hit }
    const fresh = parseCertificate(hit === undefined ? der.slice() : der)
    if (fresh._tag === "Parsed" && hit === undefined) {
      parses.set(id, fresh.certificate)
      remember(fresh.certificate)
    }
    return fresh
  }
  const isRevoked =
    revocation === undefined ? undefined : (der: Uint8Array, serial: string) => revocation.isRevoked(der, serial)

  return (request: VerifyRequest, at: number): VerifiedCertificate | CertError => {
    if (request.chain.length === 0)
      return new CertError({ reason: "Malformed", message: "No certificate was presented: the chain is empty." })
    if (request.chain.length > MAX_CHAIN_LENGTH)
      return new CertError({
        reason: "ChainTooLong",
        message: `The chain holds ${request.chain.length} certificates; at most ${MAX_CHAIN_LENGTH} are read.`
      })
    const parsed: Array<ParsedCertificate> = []
    for (let i = 0; i < request.chain.length; i++) {
      const r = parseCached(request.chain[i]!, parsed)
      const which = i === 0 ? "The leaf certificate" : `Certificate ${i + 1} of the chain`
      if (r._tag === "TooLarge")
        return new CertError({
          reason: "LimitExceeded",
          message: `${which} is ${r.size} bytes long; certificates over ${MAX_CERTIFICATE_BYTES} bytes are refused unread.`,
          depth: i === 0 ? 0 : undefined
        })
      if (r._tag === "Malformed")
        return new CertError({
          reason: "Malformed",
          message: `${which} is not a well-formed DER X.509 certificate (${r.detail}).`,
          depth: i === 0 ? 0 : undefined
        })
      parsed.push(r.certificate)
    }
    const maxIntermediates = request.maxIntermediates ?? DEFAULT_MAX_INTERMEDIATES
    // Self-issued intermediates are not counted against maxIntermediates; allow a few in the search.
    const maxDepth = Math.min(Math.max(0, maxIntermediates) + 4, MAX_CHAIN_LENGTH)
    const leaf = parsed[0]!
    const failure = newSearchState()
    const policy = {
      nameBudget: { remaining: NAME_CONSTRAINT_BUDGET },
      at,
      purpose: request.purpose,
      maxIntermediates,
      expectedHandle: request.expectedHandle,
      expectedDnsName: request.expectedDnsName,
      isRevoked
    }
    let firstError: CertError | undefined
    let tried = 0
    for (const path of buildPaths({ leaf, pool: parsed.slice(1), anchors, checkSignature, maxDepth }, failure)) {
      const error = validatePath(path, policy)
      if (error === undefined) {
        return certifyVerified({
          handle: request.expectedHandle ?? handleOf(leaf),
          dnsNames: dnsNamesOf(leaf),
          fingerprint: fingerprintOf(leaf),
          spki: leaf.spki.slice(),
          serial: leaf.serial,
          notAfter: new Date(leaf.notAfter),
          path: path.map((c) => c.der)
        })
      }
      firstError ??= error
      if (++tried >= MAX_PATHS_TRIED) break
    }
    return firstError ?? buildFailureError(failure, leaf, maxDepth)
  }
}

export const make = (options: CertVerifierOptions): Effect.Effect<CertVerifierService, CertError> =>
  Effect.gen(function* () {
    const run = yield* Effect.try({
      try: () => makeVerifySync(options),
      catch: (e) =>
        e instanceof CertError
          ? e
          : new CertError({ reason: "Malformed", message: `The trust anchors could not be loaded: ${String(e)}.` })
    })
    const clock = yield* Effect.clock
    // Untraced on purpose (as Transport.dial): it runs in every handshake, and a span cost ~15 µs,
    // more than the remembered parse of the leaf (issue 15). Errors say what failed.
    const verify = (request: VerifyRequest): Effect.Effect<VerifiedCertificate, CertError> =>
      Effect.suspend(() => {
        const raw = request.at !== undefined ? request.at.getTime() : clock.unsafeCurrentTimeMillis()
        if (!Number.isFinite(raw))
          return Effect.fail(new CertError({ reason: "Malformed", message: "The check time is not a valid date." }))
        // PROTOCOL.md §13.2: the check time, truncated to whole seconds like the certificates' own times.
        const result = run(request, Math.floor(raw / 1000) * 1000)
        return result instanceof CertError ? Effect.fail(result) : Effect.succeed(result)
      })
    return CertVerifier.of({ verify })
  })

export const layer = (options: CertVerifierOptions): Layer.Layer<CertVerifier, CertError> =>
  Layer.effect(CertVerifier, make(options))
