/**
 * Certification path building (RFC 4158 in brief). Pure: signature checks are injected.
 *
 * From the leaf, each step picks an issuer whose subject matches the current certificate's issuer
 * name (RFC 5280 7.1) and whose subjectKeyIdentifier matches its authorityKeyIdentifier when both
 * are present; configured anchors are tried before untrusted intermediates, and a candidate whose
 * signature does not verify is skipped in favour of the next one. Paths never repeat a
 * certificate, stop at a depth cap, and the whole search has a fixed budget, so a hostile bag of
 * cross-signed certificates cannot make it explode.
 */
import { bytesEqual } from "./der.js"
import { namesEqual } from "./names.js"
import type { ParsedCertificate } from "./parse.js"

export type SignatureCheck = "ok" | "bad" | "unsupported"

export interface BuildFailure {
  readonly reason: "UnknownIssuer" | "BadSignature" | "UnsupportedAlgorithm" | "ChainTooLong"
  /** Depth of `certificate` in the partial path (0 = leaf). */
  readonly depth: number
  readonly certificate: ParsedCertificate
}

export interface BuildInput {
  readonly leaf: ParsedCertificate
  /** Untrusted intermediates, in any order. */
  readonly pool: ReadonlyArray<ParsedCertificate>
  readonly anchors: ReadonlyArray<ParsedCertificate>
  /** Whether `issuer`'s key verifies `child`'s signature. Called at most once per pair. */
  readonly checkSignature: (child: ParsedCertificate, issuer: ParsedCertificate) => SignatureCheck
  /** Longest path searched, in intermediates (self-issued ones included). */
  readonly maxDepth: number
}

/** Signature checks one search may run; far above any honest chain's needs. */
export const SEARCH_BUDGET = 64
/**
 * Issuer lookups (steps of the search) one search may take. An honest chain takes one per
 * certificate; a bag of certificates that all name each other could otherwise be walked in every
 * order through signatures already checked (and so not counted by `SEARCH_BUDGET`). Each step
 * costs O(pool) comparisons, the pool holds at most 15 certificates, so the search stays bounded
 * at 1,024 x 15 name comparisons.
 */
export const MAX_SEARCH_STEPS = 1024

/** What a search did, and why it stopped when it yielded nothing. */
export interface SearchState {
  /** The failure farthest from the leaf. */
  current: BuildFailure | undefined
  /** A budget (signatures or steps) ran out before the search was complete. */
  exhausted: boolean
  signatureChecks: number
  steps: number
}

export const newSearchState = (): SearchState => ({
  current: undefined,
  exhausted: false,
  signatureChecks: 0,
  steps: 0
})

const keyIdsAgree = (child: ParsedCertificate, issuer: ParsedCertificate): boolean => {
  const aki = child.extensions.authorityKeyId
  const ski = issuer.extensions.subjectKeyId
  return aki === undefined || ski === undefined || bytesEqual(aki, ski)
}

const couldIssue = (child: ParsedCertificate, issuer: ParsedCertificate): boolean =>
  namesEqual(child.issuer, issuer.subject) && keyIdsAgree(child, issuer)

const sameAs = (a: ParsedCertificate, b: ParsedCertificate): boolean =>
  namesEqual(a.subject, b.subject) && bytesEqual(a.spki, b.spki)

/**
 * Every complete path `[leaf, …intermediates, anchor]` whose signatures all verify, best first,
 * lazily. When it yields nothing, `failure.current` says why the search failed (the failure
 * farthest from the leaf), and `failure.exhausted` whether it was cut short by its budgets.
 */
export function* buildPaths(input: BuildInput, failure: SearchState): Generator<ReadonlyArray<ParsedCertificate>> {
  const memo = new Map<ParsedCertificate, Map<ParsedCertificate, SignatureCheck>>()
  let budget = SEARCH_BUDGET
  const spent = (): boolean => {
    if (budget > 0) return false
    failure.exhausted = true
    return true
  }
  const check = (child: ParsedCertificate, issuer: ParsedCertificate): SignatureCheck => {
    let row = memo.get(child)
    if (row === undefined) {
      row = new Map()
      memo.set(child, row)
    }
    let result = row.get(issuer)
    if (result === undefined) {
      budget--
      failure.signatureChecks++
      result = input.checkSignature(child, issuer)
      row.set(issuer, result)
    }
    return result
  }
  const note = (reason: BuildFailure["reason"], depth: number, certificate: ParsedCertificate) => {
    if (failure.current === undefined || depth > failure.current.depth) failure.current = { reason, depth, certificate }
  }
  // An intermediate that is a copy of an anchor (same name and key) is never used: the anchor is.
  const pool = input.pool.filter((c) => !input.anchors.some((a) => sameAs(a, c)))
  const path: Array<ParsedCertificate> = [input.leaf]
  const used = new Set<ParsedCertificate>([input.leaf])

  function* extend(): Generator<ReadonlyArray<ParsedCertificate>> {
    if (failure.steps >= MAX_SEARCH_STEPS) {
      failure.exhausted = true
      return
    }
    failure.steps++
    const current = path[path.length - 1]!
    const depth = path.length - 1
    // A self-signed certificate is a root: it is trusted only as a configured anchor (same name
    // and key), never continued through another issuer, and an anchor that merely shares its
    // name is not its issuer.
    if (current.selfIssued && keyIdsAgree(current, current) && !spent() && check(current, current) === "ok") {
      const anchor = input.anchors.find((a) => sameAs(a, current))
      if (anchor !== undefined) yield [...path, anchor]
      else note("UnknownIssuer", depth, current)
      return
    }
    let candidates = 0
    for (const anchor of input.anchors) {
      if (!couldIssue(current, anchor)) continue
      candidates++
      if (spent()) return
      const s = check(current, anchor)
      if (s === "ok") yield [...path, anchor]
      else note(s === "bad" ? "BadSignature" : "UnsupportedAlgorithm", depth, current)
    }
    const options = pool.filter((c) => !used.has(c) && couldIssue(current, c))
    // Prefer an exact key-identifier match over a name-only match.
    const aki = current.extensions.authorityKeyId
    options.sort((a, b) => rank(b, aki) - rank(a, aki))
    candidates += options.length
    if (options.length > 0 && path.length - 1 >= input.maxDepth) {
      note("ChainTooLong", depth, current)
      return
    }
    for (const issuer of options) {
      if (spent() || failure.steps >= MAX_SEARCH_STEPS) {
        failure.exhausted = true
        return
      }
      const s = check(current, issuer)
      if (s !== "ok") {
        note(s === "bad" ? "BadSignature" : "UnsupportedAlgorithm", depth, current)
        continue
      }
      path.push(issuer)
      used.add(issuer)
      yield* extend()
      path.pop()
      used.delete(issuer)
    }
    if (candidates === 0) note("UnknownIssuer", depth, current)
  }
  yield* extend()
}

const rank = (c: ParsedCertificate, aki: Uint8Array | undefined): number => {
  const ski = c.extensions.subjectKeyId
  return aki !== undefined && ski !== undefined && bytesEqual(aki, ski) ? 1 : 0
}
