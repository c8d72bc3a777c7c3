/**
 * Sending to a handle (issue 13, item 4): `lookup` (may this handle be written to? asked of the IRP
 * (our own, which relays a handle of another domain, PROTOCOL.md §22.4) before the CLI queues anything, so that a typo neither waits in the outbox forever nor leaves a
 * contact behind), the outbox as a person sees it (`outbox`, `outboxCancel`) and the expiry of what
 * cannot be delivered (`sweep`, run by the agent every `sweepInterval`).
 *
 * Expiry: a message is given up `expiryMs` after it was written (`expired`, shown as failed); a file
 * offer after `expiryMs` without progress (`failed`, the peer told with `<FileCancel reason="expired">`
 * when a session is up), so that a long transfer that moves is never cut.
 */
import { Clock, Duration, Effect } from "effect"
import type { StoredMessage } from "../../domain/agent/messages.js"
import type { LookupResult, OutboxItem } from "../../domain/agent/rpc.js"
import type { OutgoingTransfer, Transfer } from "../../domain/agent/transfers.js"
import { type Handle, handleDomain, type Id } from "../../domain/brands.js"
import { AgentError } from "../../services/Agent.js"
import type { AgentStoreService } from "../../services/AgentStore.js"
import type { DirectoryService } from "../../services/Directory.js"
import type { FilesFeature } from "./core/plugin.js"

export interface OutboxViewConfig {
  readonly self: Handle
  readonly store: AgentStoreService
  readonly directory: DirectoryService
  readonly files: FilesFeature | undefined
  readonly expiryMs: number
  /**
   * Longest wait for the IRP's answer to a lookup (default 5 s: a person is waiting, and a
   * reconnecting IRP connection would hold the lookup for its own 10 s).
   */
  readonly lookupTimeoutMs?: number | undefined
}

/** Characters of a message shown in the outbox list. */
const SUMMARY_LENGTH = 60
/** Items named one by one in the agent's log per sweep; more are counted. */
const LOGGED_PER_SWEEP = 10

const summaryOf = (body: string) => {
  const chars = [...body.replace(/\s+/g, " ").trim()]
  return chars.length <= SUMMARY_LENGTH ? chars.join("") : `${chars.slice(0, SUMMARY_LENGTH - 1).join("")}…`
}

/** How often the agent looks for expired items: a quarter of the expiry, between 250 ms and a minute. */
export const sweepInterval = (expiryMs: number): number => Math.min(60_000, Math.max(250, Math.floor(expiryMs / 4)))

export const makeOutboxView = (config: OutboxViewConfig) => {
  const { self, store, directory, files, expiryMs } = config
  const domain = handleDomain(self)
  const expiry = Duration.format(Duration.millis(expiryMs))
  const storage = (e: { readonly message: string }) =>
    new AgentError({ reason: "Storage", message: e.message, cause: e })

  const lookup = (peer: Handle): Effect.Effect<LookupResult, AgentError> =>
    Effect.gen(function* () {
      const found = yield* directory.lookup(peer).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(config.lookupTimeoutMs ?? 5000),
          onTimeout: () => ({ _tag: "Timeout" }) as const
        }),
        Effect.either
      )
      if (found._tag === "Right") {
        const online = found.right.addresses.length > 0
        return {
          peer,
          status: "active",
          online,
          message: online
            ? `${peer} has a device online.`
            : `${peer} has no device online now: messages wait for them (at most ${expiry}).`
        } as const
      }
      const e = found.left
      if (e._tag === "Timeout")
        return yield* new AgentError({
          reason: "Unavailable",
          message: `The IRP server did not answer the lookup of ${peer} within ${Duration.format(Duration.millis(config.lookupTimeoutMs ?? 5000))} (it may be unreachable): try again later, or send with --queue.`
        })
      switch (e.reason) {
        case "NotFound":
          return {
            peer,
            status: "unknown",
            online: false,
            message: `${peer} has no certificate in ${handleDomain(peer)}: check the spelling, or ask them to enrol.`
          } as const
        case "Revoked":
          return {
            peer,
            status: "revoked",
            online: false,
            message: `${peer}'s certificate has been revoked: nothing can reach them until they enrol again.`
          } as const
        case "Unreachable":
          return yield* new AgentError({
            reason: "Unavailable",
            message:
              handleDomain(peer) === domain
                ? `The IRP server cannot be reached to look up ${peer}: try again later, or send with --queue.`
                : // PROTOCOL.md §22.6: our IRP could not reach the other domain's (federation_unavailable), or ours is down.
                  `${peer} cannot be looked up now (${e.message.replace(/\.$/, "")}): try again later, or send with --queue.`,
            cause: e
          })
        case "Refused":
          return yield* new AgentError({ reason: "Refused", message: e.message, cause: e })
      }
    })

  const messageItem = (m: StoredMessage, lastError: string | null, nextAttemptAt: number | null): OutboxItem => ({
    id: m.id,
    peer: m.peer,
    kind: "message",
    state: m.state === "queued" || m.state === "sent" ? m.state : "cancelled",
    summary: summaryOf(m.body),
    createdAt: m.createdAt,
    attempts: m.attempts,
    lastError,
    nextAttemptAt,
    expiresAt: m.createdAt + expiryMs
  })

  const fileItem = (t: OutgoingTransfer): OutboxItem => ({
    id: t.id,
    peer: t.peer,
    kind: "file",
    state: t.state === "offered" || t.state === "accepted" || t.state === "sending" ? t.state : "cancelled",
    summary: t.name,
    createdAt: t.createdAt,
    attempts: null,
    lastError: t.detail,
    nextAttemptAt: null,
    expiresAt: t.updatedAt + expiryMs
  })

  const waitingFiles = (peer?: Handle) =>
    Effect.map(store.transfers({ peer, active: true }), (all) =>
      all.filter((t): t is OutgoingTransfer => t.direction === "out")
    )

  const outbox = (query: { readonly peer?: Handle | undefined; readonly limit?: number | undefined }) =>
    Effect.gen(function* () {
      const messages = yield* store.outbox({ peer: query.peer, limit: query.limit })
      const retry = new Map((yield* store.peersWithOutbox()).map((p) => [p.peer, p]))
      const items = messages.map((m) => {
        const r = retry.get(m.peer)
        return messageItem(m, r?.lastError ?? null, r?.nextAttemptAt ?? null)
      })
      const offered = files === undefined ? [] : yield* waitingFiles(query.peer)
      return [...items, ...offered.map(fileItem)] as ReadonlyArray<OutboxItem>
    }).pipe(Effect.mapError(storage))

  const notWaiting = (message: string) => new AgentError({ reason: "Refused", message })

  const outboxCancel = (id: Id): Effect.Effect<OutboxItem, AgentError> =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const message = yield* Effect.mapError(store.outgoing(id), storage)
      if (message !== undefined) {
        switch (message.state) {
          case "queued":
          case "sent":
            return messageItem(yield* Effect.mapError(store.cancel({ id, now }), storage), null, null)
          case "cancelled":
            return yield* notWaiting(`Message ${id} was already cancelled.`)
          case "expired":
            return yield* notWaiting(`Message ${id} already expired undelivered: nothing waits any more.`)
          default:
            return yield* notWaiting(
              `Message ${id} was already delivered to ${message.peer}; it can no longer be cancelled.`
            )
        }
      }
      const waiting = (yield* Effect.mapError(waitingFiles(), storage)).find((t) => t.id === id)
      if (waiting !== undefined && files !== undefined && (yield* files.cancel(id)))
        return { ...fileItem(waiting), state: "cancelled" } as const
      const finished = (yield* Effect.mapError(store.transfers(), storage)).find(
        (t): t is OutgoingTransfer => t.direction === "out" && t.id === id
      )
      if (finished !== undefined)
        return yield* notWaiting(
          finished.state === "done"
            ? `The file ${id} was already delivered to ${finished.peer}; it can no longer be cancelled.`
            : `The file ${id} no longer waits (${finished.state}).`
        )
      return yield* new AgentError({
        reason: "NotFound",
        message: `Nothing in the outbox has id ${id}: \`sixchat outbox\` lists what waits.`
      })
    })

  const logGivenUp = (what: string, items: ReadonlyArray<string>) =>
    items.length === 0
      ? Effect.void
      : Effect.logWarning(
          `agent: ${items.length} ${what} not delivered within ${expiry}, given up (shown as failed): ${items
            .slice(0, LOGGED_PER_SWEEP)
            .join(", ")}${items.length > LOGGED_PER_SWEEP ? `, and ${items.length - LOGGED_PER_SWEEP} more` : ""}`
        )

  /** Gives up what waited too long; logs it. Never fails (a storage error is logged; the next sweep tries again). */
  const sweep: Effect.Effect<void> = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const expired = yield* store.expireOutbox({ createdBefore: now - expiryMs, now })
    yield* logGivenUp(
      expired.length === 1 ? "message" : "messages",
      expired.map((m) => `${m.id} to ${m.peer}`)
    )
    if (files?.expire === undefined) return
    const failed: ReadonlyArray<Transfer> = yield* files.expire(
      now - expiryMs,
      `Not delivered within ${expiry}: given up; send the file again.`
    )
    yield* logGivenUp(
      failed.length === 1 ? "file" : "files",
      failed.map((t) => `${t.id} to ${t.peer}`)
    )
  }).pipe(Effect.catchAll((e) => Effect.logWarning(`agent: the outbox expiry failed: ${e.message}`)))

  return { lookup, outbox, outboxCancel, sweep }
}
