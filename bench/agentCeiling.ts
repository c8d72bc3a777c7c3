/**
 * node:crypto's SHA-256 speed on this machine, measured in every file round of `bench:agent` for
 * reference: both the file transfer and its node:tls anchor hash every byte on each side, once
 * (issue 15: the offer no longer carries the digest, so the sender's separate hashing pass is gone;
 * the ceiling that pass set, `file_ratio <= 0.57` here, no longer applies).
 */
import { createHash } from "node:crypto"

/** Milliseconds node:crypto's SHA-256 takes per MiB, over `mib` MiB of memory (the best of three). */
export const sha256MsPerMiB = (mib = 64): number => {
  const block = new Uint8Array(1024 * 1024).fill(0x5a)
  let best = Number.POSITIVE_INFINITY
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now()
    const hash = createHash("sha256")
    for (let i = 0; i < mib; i++) hash.update(block)
    hash.digest()
    best = Math.min(best, (performance.now() - t0) / mib)
  }
  return best
}
