/**
 * Transfer progress for people (issue 4, section 3: "progress bar with rate and ETA on a terminal
 * (plain lines when not a TTY)"): a smoothed rate meter and one formatting function. Pure: times
 * come in as epoch milliseconds.
 */

/** A smoothed transfer rate: an exponential moving average of bytes per second. */
export interface RateMeter {
  readonly at: number
  readonly bytes: number
  /** Bytes per second (0 until a second sample). */
  readonly rate: number
  readonly samples: number
}

/** How quickly the rate follows a change (time constant of the average). */
const RATE_WINDOW_MS = 3000

export const startMeter = (bytes: number, at: number): RateMeter => ({ at, bytes, rate: 0, samples: 1 })

/**
 * The meter after `bytes` were reached at `at`. A sample at the same instant only moves the byte
 * count forward later (it is folded into the next one); going backwards (a transfer restarted
 * from an earlier offset) restarts the meter.
 */
export const updateMeter = (meter: RateMeter, bytes: number, at: number, windowMs = RATE_WINDOW_MS): RateMeter => {
  if (bytes < meter.bytes) return startMeter(bytes, at)
  const dt = at - meter.at
  if (dt <= 0) return meter
  const instant = ((bytes - meter.bytes) * 1000) / dt
  const rate = meter.samples === 1 ? instant : meter.rate + (1 - Math.exp(-dt / windowMs)) * (instant - meter.rate)
  return { at, bytes, rate, samples: meter.samples + 1 }
}

/** Seconds left at `rate`, `undefined` when unknown (no rate yet). */
export const etaSeconds = (bytes: number, total: number, rate: number): number | undefined =>
  bytes >= total ? 0 : rate > 0 ? (total - bytes) / rate : undefined

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const

/** `512 B`, `1.5 KiB`, `12.3 MiB`, `1.0 GiB`. */
export const formatBytes = (n: number): string => {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`
}

/** `0:07`, `12:34`, `1:02:03`; `--:--` when unknown. */
export const formatDuration = (seconds: number | undefined): string => {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "--:--"
  const s = Math.ceil(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const ss = String(s % 60).padStart(2, "0")
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`
}

export interface ProgressView {
  readonly bytes: number
  readonly total: number
  /** Bytes per second. */
  readonly rate: number
  /** Seconds left, `undefined` when unknown. */
  readonly eta: number | undefined
  /** A terminal: draw a bar (the caller rewrites the line with `\r`); otherwise a plain log line. */
  readonly tty: boolean
  /** Shown first when given (a file name). */
  readonly label?: string | undefined
  /** Width of the bar in cells on a terminal (default 30). */
  readonly width?: number | undefined
}

/**
 * One line of progress, without a line ending:
 * * terminal: `notes.pdf [###########.........]  55%  5.5 MiB / 10.0 MiB  2.1 MiB/s  ETA 0:03`
 * * not a terminal: `notes.pdf: 55% (5.5 MiB of 10.0 MiB) at 2.1 MiB/s, ETA 0:03`
 */
export const formatProgress = (view: ProgressView): string => {
  const { bytes, total, rate, eta, tty } = view
  const fraction = total > 0 ? Math.min(Math.max(bytes / total, 0), 1) : 1
  const percent = `${Math.floor(fraction * 100)}%`
  const label = view.label === undefined ? "" : view.label
  const speed = rate > 0 ? `${formatBytes(rate)}/s` : "-- B/s"
  if (!tty) {
    return `${label === "" ? "" : `${label}: `}${percent} (${formatBytes(bytes)} of ${formatBytes(total)}) at ${speed}, ETA ${formatDuration(eta)}`
  }
  const width = Math.max(view.width ?? 30, 1)
  const filled = Math.floor(fraction * width)
  const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`
  return `${label === "" ? "" : `${label} `}${bar} ${percent.padStart(4)}  ${formatBytes(bytes)} / ${formatBytes(total)}  ${speed}  ETA ${formatDuration(eta)}`
}
