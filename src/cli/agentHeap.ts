/**
 * The agent process's V8 heap growth (issue 15, file transfer).
 *
 * A file transfer turns over hundreds of MiB per second of short-lived buffers (socket reads, cipher
 * output, disk batches). After a full collection V8 sizes the next old-generation limit by a factor it
 * derives from recent GC and mutator speeds, and for the agent's small live heap it often picked
 * 1.4–2.2: less headroom than one young-generation cycle promotes, so marking started again at once and
 * full collections ran back to back for the whole transfer ("GC storms": 13–59 per 256 MiB transfer
 * instead of 1–3, up to 41 % of the receiver's CPU in V8 marking and sweeping, measured with `perf`;
 * docs/BENCHMARKS.md, "Issue 15, fifth session"). Fixing the factor at 4, V8's own upper bound for the
 * dynamic factor, stops them: one or two full collections per process and transfer in every measured run.
 *
 * The cost is headroom, not leaks: the old generation may grow to four times what was live after the
 * last full collection before the next one (an agent's live heap is tens of MiB). The IRP server keeps
 * V8's defaults (its heap is large and its garbage small). Set once per process, before the agent
 * starts; the flag is read at every limit computation, so setting it at run time takes effect.
 */
import { setFlagsFromString } from "node:v8"

let tuned = false

/** Sets the agent process's heap growth factor (idempotent). */
export const tuneAgentHeap = (): void => {
  if (tuned) return
  tuned = true
  setFlagsFromString("--heap-growing-percent=300")
}
