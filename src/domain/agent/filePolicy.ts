/**
 * Which incoming file offers an agent takes, without I/O (issue 10, section 5; docs/PROTOCOL.md
 * 5.4.6, 5.4.7): the auto-accept policy (who may put a file on this disk without the user saying
 * yes) and the caps on transfers one peer, and all peers together, may hold open.
 */

/**
 * Who may have an offer accepted without asking:
 * * `known`: people the user has written to (a message or a file sent to them) or verified;
 * * `anyone`: every authenticated peer of the domain (the first handshake pins anyone, so a pin
 *   alone says nothing about who the peer is to the user).
 */
export type AcceptFrom = "known" | "anyone"

/**
 * * `Always`: accept every offer, from anyone, of any size;
 * * `Never`: hold every offer for the user (`sixchat accept`, or cancel);
 * * `UpTo`: accept offers of at most `maxBytes` from `from`; hold the others.
 */
export type AcceptPolicy =
  | { readonly _tag: "Always" }
  | { readonly _tag: "Never" }
  | { readonly _tag: "UpTo"; readonly maxBytes: number; readonly from: AcceptFrom }

export const GiB = 1024 ** 3

/** Up to 4 GiB from people the user has written to or verified. */
export const defaultAcceptPolicy: AcceptPolicy = { _tag: "UpTo", maxBytes: 4 * GiB, from: "known" }

/** Whether an offer is accepted without asking the user; `false` holds it for them. */
export const mayAutoAccept = (input: {
  /** An outgoing message (or file) to this contact exists. */
  readonly wroteTo: boolean
  /** The user compared the safety number with this contact. */
  readonly verified: boolean
  readonly size: number
  readonly policy: AcceptPolicy
}): boolean => {
  const { policy } = input
  switch (policy._tag) {
    case "Always":
      return true
    case "Never":
      return false
    case "UpTo":
      return input.size <= policy.maxBytes && (policy.from === "anyone" || input.wroteTo || input.verified)
  }
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$/i
const MULTIPLIER: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/**
 * Parses a policy as a user writes it: `always`, `never`, or a size (`4GiB`, `500M`, `1048576`;
 * binary units) optionally prefixed by who: `known:500M` (the default) or `anyone:500M`.
 * `undefined` when it is none of these.
 */
export const parseAcceptPolicy = (text: string): AcceptPolicy | undefined => {
  const t = text.trim().toLowerCase()
  if (t === "always") return { _tag: "Always" }
  if (t === "never") return { _tag: "Never" }
  const colon = t.indexOf(":")
  const who = colon < 0 ? "known" : t.slice(0, colon).trim()
  if (who !== "known" && who !== "anyone") return undefined
  const m = SIZE.exec(t.slice(colon + 1).trim())
  if (m === null) return undefined
  const maxBytes = Math.floor(Number(m[1]) * MULTIPLIER[(m[2] ?? "b")[0]!]!)
  return Number.isSafeInteger(maxBytes) ? { _tag: "UpTo", maxBytes, from: who } : undefined
}

/** How many unfinished incoming transfers one peer, and all peers together, may hold (5.4.7). */
export interface TransferCaps {
  /** Unfinished incoming transfers stored per peer (offered, accepted, receiving, verifying). */
  readonly perPeer: number
  /** Incoming transfers with an open partial file, over all peers. */
  readonly openTotal: number
  /** Incoming transfers with an open partial file, per peer. */
  readonly openPerPeer: number
}

export const defaultTransferCaps: TransferCaps = { perPeer: 32, openTotal: 64, openPerPeer: 8 }

/** The `<FileCancel reason>` for an offer over a cap (docs/PROTOCOL.md 5.4.7). */
export const TOO_MANY_TRANSFERS = "too_many_transfers"

/** Whether a new offer may be stored: `false` when the peer already has `perPeer` unfinished ones. */
export const mayStoreOffer = (caps: TransferCaps, unfinishedFromPeer: number): boolean =>
  unfinishedFromPeer < caps.perPeer

/** Whether one more partial file may be opened for `peer`. */
export const mayOpenTransfer = (caps: TransferCaps, open: { readonly peer: number; readonly total: number }): boolean =>
  open.peer < caps.openPerPeer && open.total < caps.openTotal

/**
 * Whether an offer can be taken at all (5.4.6): `chunk` leaves room for the 24-byte header in one
 * record, and `size` is one this agent can count exactly (JavaScript numbers are exact to 2^53 - 1,
 * 8 PiB; the protocol allows 2^63 - 1, so the size arrives as a bigint and is compared as one).
 */
export const offerProblem = (
  offer: { readonly size: bigint; readonly chunk: number },
  maxChunk: number
): string | undefined =>
  offer.chunk > maxChunk
    ? `chunk ${offer.chunk} does not fit one record with its 24-byte header (at most ${maxChunk})`
    : offer.size > BigInt(Number.MAX_SAFE_INTEGER)
      ? `size ${offer.size} is beyond the ${Number.MAX_SAFE_INTEGER} bytes this agent can take`
      : undefined
