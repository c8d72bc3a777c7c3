/**
 * One request line in, at most one response line out (JSON-RPC 2.0, sections 4-6): parse, validate
 * the envelope, look up the method, decode its params with the method's Schema, call the `Agent`,
 * encode the result. Every failure becomes a JSON-RPC error object; nothing here ends the connection.
 */

import { Effect, Either, Option, ParseResult, Schema } from "effect"
import { paramSentence, unknownParameter } from "../../../domain/agent/params.js"
import {
  agentErrorCode,
  ErrorCode,
  errorLine,
  type RequestId,
  type RpcErrorObject,
  RpcRequest,
  successLine
} from "../../../domain/agent/rpc.js"
import type { AgentError, AgentService } from "../../../services/Agent.js"
import { isMethodName, type MethodName, Methods, type ParamsOf, type ResultOf } from "./methods.js"

/** What the connection offers to the connection-level methods. */
export interface Session {
  /** Registers a subscriber; it starts receiving once `activate` runs (after the response was written). */
  readonly subscribe: () => { readonly subscription: number; readonly activate: () => void }
  readonly unsubscribe: (subscription: number) => boolean
}

/** A response line plus what must happen right after it was written. */
export interface Reply {
  readonly line: string | undefined
  readonly afterWrite?: () => void
}

type Failure = AgentError | RpcErrorObject
type Handler<M extends MethodName> = (params: ParamsOf<M>) => Effect.Effect<ResultOf<M>, Failure>
type Handlers = { readonly [M in MethodName]: Handler<M> }

const invalidParams = (message: string, data?: unknown): RpcErrorObject =>
  data === undefined ? { code: ErrorCode.InvalidParams, message } : { code: ErrorCode.InvalidParams, message, data }

const handlers = (agent: AgentService, session: Session, afterWrite: Array<() => void>): Handlers => ({
  send: (p) => agent.send(p.peer, p.body),
  lookup: (p) => agent.lookup(p.peer),
  outbox: (p) => agent.outbox(p),
  outboxCancel: (p) => agent.outboxCancel(p.id),
  sendFile: (p) => agent.sendFile(p.peer, p.path),
  cancel: (p) => Effect.as(agent.cancel(p.id), {}),
  accept: (p) => Effect.as(agent.acceptFile(p.peer, p.id), {}),
  history: (p) => agent.history(p),
  contacts: () => agent.contacts,
  contact: (p) => agent.contact(p.peer),
  trust: (p) => Effect.as(agent.trust(p.peer), {}),
  verify: (p) => agent.verify(p.peer, p.safetyNumber),
  keyChanges: (p) => agent.keyChanges(p.peer),
  domainInfo: (p) => agent.domainInfo(p.domain),
  trustDomain: (p) => agent.trustDomain(p.domain),
  domainKeyChanges: (p) => agent.domainKeyChanges(p.domain),
  markRead: (p) => Effect.map(agent.markRead(p.peer), (count) => ({ count })),
  typing: (p) => Effect.as(agent.typing(p.peer, p.state), {}),
  transfers: (p) => agent.transfers(p.peer),
  status: () => agent.status,
  subscribe: () =>
    Effect.sync(() => {
      const { subscription, activate } = session.subscribe()
      afterWrite.push(activate)
      return { subscription }
    }),
  unsubscribe: (p) =>
    session.unsubscribe(p.subscription)
      ? Effect.succeed({})
      : Effect.fail(invalidParams(`no subscription ${p.subscription} on this connection`))
})

const toErrorObject = (failure: Failure): RpcErrorObject =>
  "_tag" in failure
    ? { code: agentErrorCode(failure.reason), message: failure.message, data: { reason: failure.reason } }
    : failure

/** Runs one decoded request; `undefined` id handling is the caller's. */
const invoke = (
  name: MethodName,
  rawParams: unknown,
  agent: AgentService,
  session: Session,
  afterWrite: Array<() => void>
): Effect.Effect<unknown, RpcErrorObject> => {
  const { params: paramsSchema, result: resultSchema } = Methods[name] as unknown as {
    params: Schema.Schema<unknown, unknown>
    result: Schema.Schema<unknown, unknown>
  }
  if (rawParams !== undefined && (typeof rawParams !== "object" || rawParams === null || Array.isArray(rawParams)))
    return Effect.fail(invalidParams(`params of ${name} must be an object of named parameters`))
  const given = (rawParams ?? {}) as Readonly<Record<string, unknown>>
  // Named here, before decoding, so that a typo gets a sentence, not the Schema's type (-32602).
  const fields = (paramsSchema as unknown as { readonly fields?: Readonly<Record<string, unknown>> }).fields ?? {}
  const unknown = unknownParameter(name, Object.keys(fields), Object.keys(given))
  if (unknown !== undefined)
    return Effect.fail(invalidParams(unknown.message, { issues: [{ path: [unknown.name], message: "is unknown" }] }))
  const decoded = Schema.decodeUnknownEither(paramsSchema, { onExcessProperty: "error", errors: "all" })(given)
  if (Either.isLeft(decoded)) {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
    const first = issues[0] ?? { path: [], _tag: "Type" }
    return Effect.fail(
      invalidParams(paramSentence(name, { path: first.path, tag: first._tag }, given), {
        issues: issues.map((i) => ({
          path: i.path,
          message: paramSentence(name, { path: i.path, tag: i._tag }, given)
        }))
      })
    )
  }
  const handler = handlers(agent, session, afterWrite)[name] as (p: unknown) => Effect.Effect<unknown, Failure>
  return handler(decoded.right).pipe(
    Effect.mapError(toErrorObject),
    Effect.flatMap((result) =>
      Effect.mapError(Schema.encode(resultSchema)(result), (e) => ({
        code: ErrorCode.InternalError,
        message: `the agent produced an invalid ${name} result: ${e.message}`
      }))
    ),
    Effect.catchAllDefect((defect) =>
      Effect.zipRight(
        Effect.logError(`control socket: ${name} failed`, defect),
        Effect.fail({
          code: ErrorCode.InternalError,
          message: `internal error in ${name} (${defect instanceof Error ? defect.message : String(defect)}): see the agent's log`
        })
      )
    )
  )
}

const validId = (value: unknown): value is RequestId =>
  value === null || typeof value === "string" || (typeof value === "number" && Number.isFinite(value))

/** One request object (already parsed from JSON). */
const handleRequest = (
  value: unknown,
  agent: AgentService,
  session: Session,
  afterWrite: Array<() => void>
): Effect.Effect<string | undefined> => {
  const hasId = typeof value === "object" && value !== null && !Array.isArray(value) && "id" in value
  const rawId = hasId ? (value as { id: unknown }).id : null
  const request = Schema.decodeUnknownOption(RpcRequest)(value)
  if (Option.isNone(request) || (hasId && !validId(rawId)))
    return Effect.succeed(
      errorLine(validId(rawId) ? rawId : null, {
        code: ErrorCode.InvalidRequest,
        message: 'not a JSON-RPC 2.0 request: send {"jsonrpc":"2.0","id":1,"method":"…","params":{…}}'
      })
    )
  const { method, params } = request.value
  const id = hasId ? (rawId as RequestId) : undefined
  const respond = (outcome: Either.Either<unknown, RpcErrorObject>) =>
    id === undefined
      ? undefined
      : Either.isRight(outcome)
        ? successLine(id, outcome.right)
        : errorLine(id, outcome.left)
  if (!isMethodName(method))
    return Effect.succeed(
      respond(
        Either.left({
          code: ErrorCode.MethodNotFound,
          message: `no method "${method}": see docs/CONTROL.md for the list`
        })
      )
    )
  return Effect.map(Effect.either(invoke(method, params, agent, session, afterWrite)), respond)
}

/** Batches run with this much concurrency. */
const BATCH_CONCURRENCY = 8

/** A request line (one request or a batch, JSON-RPC 2.0 section 6). */
export const handleLine = (line: string, agent: AgentService, session: Session): Effect.Effect<Reply> => {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (e) {
    return Effect.succeed({
      line: errorLine(null, { code: ErrorCode.ParseError, message: `not JSON: ${(e as Error).message}` })
    })
  }
  const afterWrite: Array<() => void> = []
  const reply = (line: string | undefined): Reply =>
    afterWrite.length === 0
      ? { line }
      : {
          line,
          afterWrite: () => {
            for (const f of afterWrite) f()
          }
        }
  if (!Array.isArray(value)) return Effect.map(handleRequest(value, agent, session, afterWrite), reply)
  if (value.length === 0)
    return Effect.succeed({
      line: errorLine(null, { code: ErrorCode.InvalidRequest, message: "an empty batch: send at least one request" })
    })
  return Effect.forEach(value, (v) => handleRequest(v, agent, session, afterWrite), {
    concurrency: BATCH_CONCURRENCY
  }).pipe(
    Effect.map((lines) => {
      const answers = lines.filter((l): l is string => l !== undefined)
      return reply(answers.length === 0 ? undefined : `[${answers.join(",")}]`)
    })
  )
}
