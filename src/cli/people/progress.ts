/**
 * File transfer progress for a person (issue 4, section 3: "progress bar with rate and ETA on a
 * terminal (plain lines when not a TTY)"). `Progress` turns samples into what to print: on a terminal
 * one line redrawn in place (`\r`, erase to end of line); otherwise at most one plain line per
 * second, plus the last one.
 */
import { bytes, duration } from "./format.js"

const BAR_WIDTH = 24
const PLAIN_INTERVAL_MS = 1000

export interface ProgressSample {
  readonly offset: number
  readonly size: number
  readonly now: number
}

/** `[=========>              ]  42%  4.2 MiB/10 MiB  1.3 MiB/s  ETA 0:04` */
export const progressText = (name: string, sample: ProgressSample, rate: number | undefined): string => {
  const fraction = sample.size === 0 ? 1 : Math.min(1, sample.offset / sample.size)
  const filled = Math.floor(fraction * BAR_WIDTH)
  const bar =
    filled >= BAR_WIDTH ? "=".repeat(BAR_WIDTH) : `${"=".repeat(filled)}>${" ".repeat(BAR_WIDTH - filled - 1)}`
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4)
  const amounts = `${bytes(sample.offset)}/${bytes(sample.size)}`
  const speed =
    rate === undefined || rate <= 0 ? "" : `  ${bytes(rate)}/s  ETA ${duration((sample.size - sample.offset) / rate)}`
  return `${name}  [${bar}] ${percent}  ${amounts}${speed}`
}

export class Progress {
  private first: ProgressSample | undefined
  private lastPlainAt = Number.NEGATIVE_INFINITY
  private drawn = false

  constructor(
    private readonly name: string,
    private readonly terminal: boolean
  ) {}

  /** Bytes per second since the first sample (undefined until time has passed). */
  rate(sample: ProgressSample): number | undefined {
    const first = this.first
    if (first === undefined || sample.now <= first.now) return undefined
    return ((sample.offset - first.offset) * 1000) / (sample.now - first.now)
  }

  /** What to write for this sample ("" when nothing). */
  update(sample: ProgressSample): string {
    this.first ??= sample
    const text = progressText(this.name, sample, this.rate(sample))
    if (this.terminal) {
      this.drawn = true
      return `\r${text}\u001b[K`
    }
    if (sample.now - this.lastPlainAt < PLAIN_INTERVAL_MS) return ""
    this.lastPlainAt = sample.now
    return `${text}\n`
  }

  /** The closing line (ends the redrawn line on a terminal). */
  finish(line: string): string {
    return this.terminal && this.drawn ? `\r\u001b[K${line}\n` : `${line}\n`
  }
}
