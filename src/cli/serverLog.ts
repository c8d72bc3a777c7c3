/**
 * The request log of `sixchat irp serve` (IRP issue section 4: "logs one line per request, JSON with
 * `--log-format json`"). Replaces Effect's default logger (which prints to stdout) with one that writes
 * exactly one line per log event to stderr:
 *
 * * `text`: `2025-01-02T03:04:05.678Z INFO irp request peer=alice@example.org remote=… outcome=ok ms=1`
 *   (the message, then the annotations as `key=value`, quoted like JSON when they hold spaces or quotes);
 * * `json`: one flat JSON object per line: `time`, `level`, `message`, the annotations, and `cause`
 *   when the event carries one.
 *
 * A cause (an internal failure) stays on its one line: newlines are escaped, never written.
 *
 * The request lines come through the server's `RequestLog` port, not the Effect logger, so that a
 * request costs no log event; they read exactly as the `irp request` event would (`formatRequest`).
 */
import { Cause, Effect, HashMap, Layer, Logger, LogLevel } from "effect"
import { REQUEST_MESSAGE, RequestLog, type RequestRecord } from "../layers/irp/server/requestLog.js"
import { CliFailure } from "./failure.js"

export type LogFormat = "text" | "json"
export const LOG_FORMATS: ReadonlyArray<LogFormat> = ["text", "json"]

const messageText = (message: unknown): string =>
  Array.isArray(message) ? message.map(messageText).join(" ") : typeof message === "string" ? message : String(message)

/** A value as logfmt writes it: bare when it is a plain token, else a JSON string. */
const textValue = (value: unknown): string => {
  if (typeof value === "number" && Number.isFinite(value)) return String(value)
  const s = typeof value === "string" ? value : typeof value === "bigint" ? value.toString() : JSON.stringify(value)
  return s !== undefined && /^[^\s"=\\]+$/.test(s) ? s : JSON.stringify(s ?? String(value))
}

const jsonValue = (value: unknown): unknown => (typeof value === "bigint" ? value.toString() : value)

/** Annotations of a request line in reading order; any others follow, alphabetically. */
const ORDER = ["request", "outcome", "peer", "remote", "id", "ms"]
const rank = (key: string) => {
  const i = ORDER.indexOf(key)
  return i < 0 ? ORDER.length : i
}

/** The line for one event (no trailing newline). */
export const formatLine = (format: LogFormat, options: Logger.Logger.Options<unknown>): string => {
  const fields = [...HashMap.toEntries(options.annotations)].sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1))
  const cause = Cause.isEmpty(options.cause) ? undefined : Cause.pretty(options.cause, { renderErrorCause: true })
  if (format === "json") {
    const record: Record<string, unknown> = {
      time: options.date.toISOString(),
      level: options.logLevel.label,
      message: messageText(options.message)
    }
    for (const [key, value] of fields) if (!(key in record)) record[key] = jsonValue(value)
    if (cause !== undefined) record.cause = cause
    return JSON.stringify(record)
  }
  const parts = [options.date.toISOString(), options.logLevel.label, messageText(options.message)]
  for (const [key, value] of fields) parts.push(`${key}=${textValue(value)}`)
  if (cause !== undefined) parts.push(`cause=${JSON.stringify(cause)}`)
  return parts.join(" ")
}

/** Longest a line waits to be written (ms), and most text gathered before it is written anyway. */
const FLUSH_AFTER_MS = 10
const FLUSH_AT_CHARS = 64 * 1024

/**
 * Lines to stderr, gathered for up to `FLUSH_AFTER_MS` and written together: under load one `write`
 * (a system call: stderr is synchronous on pipes and files) carries hundreds of lines instead of one
 * each. Whatever is pending is written before the process exits.
 */
const stderrLines = (): ((line: string) => void) => {
  let pending = ""
  let timer: ReturnType<typeof setTimeout> | undefined
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (pending === "") return
    const text = pending
    pending = ""
    process.stderr.write(text)
  }
  process.once("exit", flush)
  return (line) => {
    pending += `${line}\n`
    if (pending.length >= FLUSH_AT_CHARS) flush()
    else if (timer === undefined) timer = setTimeout(flush, FLUSH_AFTER_MS)
  }
}

/**
 * The line for one request, byte for byte what `formatLine` makes of the `irp request` event that
 * carries the record's fields as annotations, without building the event.
 */
export const formatRequest = (format: LogFormat, record: RequestRecord, date: Date): string =>
  formatRequestAt(format, record, date.toISOString())

/** `formatRequest` with the time already written as ISO 8601 text. */
const formatRequestAt = (format: LogFormat, record: RequestRecord, time: string): string => {
  if (format === "json")
    return JSON.stringify({
      time,
      level: LogLevel.Info.label,
      message: REQUEST_MESSAGE,
      request: record.request,
      outcome: record.outcome,
      peer: record.peer,
      remote: record.remote,
      id: record.id,
      ms: record.ms
    })
  return (
    `${time} ${LogLevel.Info.label} ${REQUEST_MESSAGE} request=${textValue(record.request)}` +
    ` outcome=${textValue(record.outcome)} peer=${textValue(record.peer)} remote=${textValue(record.remote)}` +
    ` id=${textValue(record.id)} ms=${textValue(record.ms)}`
  )
}

/**
 * The current time as `Date.prototype.toISOString` writes it, made once per millisecond: a busy server
 * logs many requests within one, and the text costs a `Date` and a formatted print each (issue 15).
 */
export const isoClock = (): (() => string) => {
  let ms = Number.NaN
  let text = ""
  return () => {
    const now = Date.now()
    if (now !== ms) {
      ms = now
      text = new Date(now).toISOString()
    }
    return text
  }
}

export const makeLogger = (
  format: LogFormat,
  write: (line: string) => void = stderrLines()
): Logger.Logger<unknown, void> => Logger.make((options) => write(formatLine(format, options)))

/**
 * Replaces the default logger and provides the server's `RequestLog`, both writing to one stderr buffer
 * (so lines keep their order); `verbose` also shows debug events (failed handshakes, ended connections).
 */
export const layer = (format: LogFormat, verbose = false): Layer.Layer<RequestLog> => {
  const write = stderrLines()
  const isoNow = isoClock()
  return Layer.mergeAll(
    Logger.replace(Logger.defaultLogger, makeLogger(format, write)),
    Logger.minimumLogLevel(verbose ? LogLevel.Debug : LogLevel.Info),
    Layer.succeed(RequestLog, { write: (record) => write(formatRequestAt(format, record, isoNow())) })
  )
}

/**
 * One of the server's own lines (start, `listening on ADDR`, ready, stopping): in text mode the plain
 * line it has always been; in JSON mode a log record through the same buffer as the request lines,
 * so that stderr holds JSON on every line. The message keeps the text (`listening on [::1]:4604`)
 * and the fields carry the values.
 */
export const statusLine = (
  format: LogFormat,
  text: string,
  fields: Record<string, unknown> = {},
  level: "info" | "warning" = "info"
): Effect.Effect<void> =>
  format === "text"
    ? Effect.sync(() => void process.stderr.write(`${text}\n`))
    : (level === "info" ? Effect.logInfo(text) : Effect.logWarning(text)).pipe(Effect.annotateLogs(fields))

/** A failure written as one JSON record (JSON mode: even the last line is JSON); start.ts then writes nothing more. */
export const reportFailure = (e: CliFailure): CliFailure => {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: LogLevel.Error.label, message: e.message, exitCode: e.code })}\n`
  )
  return new CliFailure({ code: e.code, message: e.message, reported: true })
}
