/**
 * What the brief's file protocol costs before any implementation does anything: SHA-256 over the whole
 * file on both ends (the sender hashes it before `<FileOffer sha256>`, the receiver before `<FileAck>`).
 * Measured here, it bounds `file_ratio` from above on this machine, whatever the agent does:
 *
 *   sendFile -> FileAck  >=  h + max(T_bulk, (C_bulk + h) / cores)   per MiB
 *
 * where h is SHA-256's time per MiB (the sender's pass precedes the stream and cannot overlap it), T_bulk
 * the channel's own bulk time per MiB (the stream cannot beat the channel it runs on), C_bulk the bulk's
 * CPU per MiB over both processes, and the receiver's hash adds h of CPU that shares the `cores` with
 * the channel. File reads and writes, the fsync and every per-record cost of the agent come on top.
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

export interface Ceiling {
  /** The highest `file_ratio` (sendFile -> FileAck) the two hashes leave on this machine. */
  readonly fileRatio: number
  /** The same for the transfer proper (FileAccept -> FileAck: only the receiver's hash). */
  readonly streamRatio: number
}

export const ceiling = (p: {
  readonly hashMsPerMiB: number
  readonly bulkMsPerMiB: number
  readonly bulkCpuMsPerMiB: number
  readonly cores: number
}): Ceiling => {
  const stream = Math.max(p.bulkMsPerMiB, (p.bulkCpuMsPerMiB + p.hashMsPerMiB) / p.cores)
  return { fileRatio: p.bulkMsPerMiB / (p.hashMsPerMiB + stream), streamRatio: p.bulkMsPerMiB / stream }
}
