/**
 * Which incoming offers are accepted without asking (issue 4, section 3: "auto-accept policy
 * configurable"), and the one error of the file-transfer plugin.
 */
import { Data } from "effect"

/**
 * * `Always`: accept every offer;
 * * `Never`: hold every offer for the user (`FileTransfers.accept`, or cancel);
 * * `UpTo`: accept offers of at most `maxBytes` (from contacts whose key is pinned and not in a
 *   pending key change, when `pinnedOnly`); hold the others.
 */
export type AcceptPolicy =
  | { readonly _tag: "Always" }
  | { readonly _tag: "Never" }
  | { readonly _tag: "UpTo"; readonly maxBytes: number; readonly pinnedOnly: boolean }

export const GiB = 1024 ** 3

/** Up to 4 GiB from pinned contacts. */
export const defaultAcceptPolicy: AcceptPolicy = { _tag: "UpTo", maxBytes: 4 * GiB, pinnedOnly: true }

export const decideOffer = (
  policy: AcceptPolicy,
  offer: { readonly size: number; readonly pinned: boolean }
): "accept" | "hold" => {
  switch (policy._tag) {
    case "Always":
      return "accept"
    case "Never":
      return "hold"
    case "UpTo":
      return offer.size <= policy.maxBytes && (offer.pinned || !policy.pinnedOnly) ? "accept" : "hold"
  }
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$/i
const MULTIPLIER: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/**
 * Parses a policy as a user writes it (`always`, `never`, `4GiB`, `500M`, `1048576`; binary units).
 * `undefined` when it is none of these.
 */
export const parseAcceptPolicy = (text: string, pinnedOnly = true): AcceptPolicy | undefined => {
  const t = text.trim().toLowerCase()
  if (t === "always") return { _tag: "Always" }
  if (t === "never") return { _tag: "Never" }
  const m = SIZE.exec(t)
  if (m === null) return undefined
  const maxBytes = Math.floor(Number(m[1]) * MULTIPLIER[(m[2] ?? "b")[0]!]!)
  return Number.isSafeInteger(maxBytes) ? { _tag: "UpTo", maxBytes, pinnedOnly } : undefined
}

export class FileTransferError extends Data.TaggedError("FileTransferError")<{
  readonly reason:
    | "NotFound" // no such file to send, or no such transfer
    | "BadRequest" // not a regular file, a transfer in the wrong state
    | "Io" // reading or writing a file failed
    | "Storage" // the agent store failed
  /** One sentence that says what went wrong and what to do. */
  readonly message: string
  readonly cause?: unknown
}> {}
