/**
 * The server's request log (IRP issue section 4: "logs one line per request"): a port that takes one
 * record per answered request, synchronously. It costs the request path no effect, no fiber-ref update
 * and no log-annotation map; the implementation decides how the line is written (`sixchat irp serve`
 * formats it and buffers it to stderr, see `cli/serverLog.ts`).
 *
 * Without a `RequestLog` in the context the server falls back to `throughLoggers`: the records reach the
 * Effect loggers installed where the server was built, as the `irp request` event with the record's
 * fields as annotations (what tests capture with `Logger.replace`), or nowhere when none would print.
 */
import { Cause, Effect, FiberRef, FiberRefs, HashMap, HashSet, List, Logger, LogLevel } from "effect"
import { RequestLog, type RequestLogService, type RequestRecord } from "../../../services/RequestLog.js"

export { RequestLog, type RequestLogService, type RequestRecord } from "../../../services/RequestLog.js"

/** The event's message, as the CLI's log and tests know it. */
export const REQUEST_MESSAGE = "irp request"

export const silent: RequestLogService = { write: () => {} }

/**
 * The records as `irp request` events of the Effect loggers current where this runs (their minimum
 * level and annotations included). Read once: loggers installed later, around single requests, are not
 * seen. Silent when no logger would print an Info event.
 */
export const throughLoggers: Effect.Effect<RequestLogService> = Effect.withFiberRuntime((fiber) => {
  const refs = fiber.getFiberRefs()
  const minimum = FiberRefs.getOrDefault(refs, FiberRef.currentMinimumLogLevel)
  const loggers = [
    ...HashSet.filter(FiberRefs.getOrDefault(refs, FiberRef.currentLoggers), (l) => l !== Logger.tracerLogger)
  ]
  if (loggers.length === 0 || LogLevel.greaterThan(minimum, LogLevel.Info)) return Effect.succeed(silent)
  const base = FiberRefs.getOrDefault(refs, FiberRef.currentLogAnnotations)
  const fiberId = fiber.id()
  return Effect.map(Effect.clock, (clock) => ({
    write: (record: RequestRecord) => {
      let annotations = base
      for (const key of Object.keys(record) as Array<keyof RequestRecord>)
        annotations = HashMap.set(annotations, key, record[key] as unknown)
      const options = {
        fiberId,
        logLevel: LogLevel.Info,
        message: REQUEST_MESSAGE,
        cause: Cause.empty,
        context: refs,
        spans: List.empty(),
        annotations,
        date: new Date(clock.unsafeCurrentTimeMillis())
      }
      for (const logger of loggers) logger.log(options)
    }
  }))
})

/** The `RequestLog` of the context, else `throughLoggers`. */
export const current: Effect.Effect<RequestLogService> = Effect.flatMap(Effect.serviceOption(RequestLog), (option) =>
  option._tag === "Some" ? Effect.succeed(option.value) : throughLoggers
)
