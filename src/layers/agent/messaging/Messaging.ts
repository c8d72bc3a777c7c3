/**
 * The messaging plugin (PROTOCOL.md §15; issue 4, section 2): nothing is lost.
 *
 * * Inbound `<Message>`: stored (durable) THEN `<Ack id>`, for a new message and a duplicate
 *   alike: the Ack is the receiver's "stored". A message the store could not take is not
 *   acknowledged, so the sender keeps it and resends it. Messages are stored by group commit
 *   (`batcher.ts`, `store.receiveMany`): the receive loop queues them and goes on reading, and one
 *   durable transaction stores whatever queued up meanwhile, after which each gets its Ack.
 * * `<Ack>` → `markDelivered` (queued the same way, `markDeliveredMany`); `<Read>` → `markRead`;
 *   `<Typing>` → an `agent.Typing` event (when typing notices are on).
 * * Outbound: one pump per session sends the peer's whole outbox, oldest first, each once per
 *   session (`markSentMany` after each page was written), then whatever is enqueued while the
 *   session lasts. A new session starts again from the oldest unacknowledged message: resending is
 *   how a lost message or a lost Ack is repaired, and the receiver deduplicates by id.
 */
import { Clock, Effect, Queue, type Scope } from "effect"
import { timestampMillis, timestampOf } from "../../../domain/agent/messages.js"
import type { Handle, Id } from "../../../domain/brands.js"
import type { AppMessage, Message } from "../../../domain/e2e/messages.js"
import type { AgentEvent } from "../../../services/Agent.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { PeerLink, SessionPlugin } from "../core/plugin.js"
import * as Batcher from "./batcher.js"

/** Outbox rows read per round trip to the store while flushing. */
export const OUTBOX_PAGE = 100
/** Most messages (or Acks) stored per transaction (the store's `MAX_BATCH`). */
export const STORE_BATCH = 256
/** Messages (or Acks) queued per peer beyond which the session's receive loop waits for the store. */
export const QUEUE_LIMIT = 1024

export interface MessagingConfig {
  readonly store: AgentStoreService
  /** Report the peer's typing notices. */
  readonly typing: boolean
  readonly publish: (event: AgentEvent) => Effect.Effect<void>
}

export interface Messaging {
  readonly plugin: SessionPlugin
  /** Something was enqueued for `peer`: its session's pump (if any) sends it now. */
  readonly notify: (peer: Handle) => Effect.Effect<void>
  /** `<Read>` receipts for `ids`, best effort (false when there was no session or a send failed). */
  readonly sendReads: (link: PeerLink, ids: ReadonlyArray<Id>) => Effect.Effect<boolean>
}

/** Storing or receipts run in fibers of the plugin's scope (they finish a run even if the session ends). */
export const make = (config: MessagingConfig): Effect.Effect<Messaging, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { store, publish } = config
    const pumps = new Map<Handle, Queue.Queue<void>>()

    const warn = (what: string) => (e: { readonly message: string }) =>
      Effect.logWarning(`agent messaging: ${what}: ${e.message}`)

    /** Group commit of inbound messages: one durable transaction per run, then the Acks (PROTOCOL.md §15). */
    const inbox = yield* Batcher.make<Handle, { readonly link: PeerLink; readonly message: Message }>({
      max: STORE_BATCH,
      limit: QUEUE_LIMIT,
      flush: (peer, run) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const stored = yield* Effect.either(
            store.receiveMany({
              peer,
              messages: run.map(({ message }) => ({
                id: message.id,
                body: message.body,
                createdAt: timestampMillis(message.sent)
              })),
              now
            })
          )
          if (stored._tag === "Left") {
            const ids = run.map(({ message }) => message.id).join(", ")
            return yield* warn(`could not store messages ${ids} from ${peer}; not acknowledged`)(stored.left)
          }
          // PROTOCOL.md §15: the Ack says "stored", and goes out for duplicates too.
          for (const { link, message } of run) yield* Effect.ignore(link.send({ _tag: "e2e.Ack", id: message.id }))
        })
    })

    /** `<Ack>`s, recorded a run at a time. */
    const acks = yield* Batcher.make<Handle, Id>({
      max: STORE_BATCH,
      limit: QUEUE_LIMIT,
      flush: (peer, ids) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.catchAll(
            Effect.asVoid(store.markDeliveredMany({ peer, ids, now })),
            warn(`could not record the Acks of ${ids.join(", ")}`)
          )
        )
    })

    /** Sends everything unacknowledged, then waits for more; ends when a send fails (the session is over). */
    const pump = (link: PeerLink, wake: Queue.Queue<void>) =>
      Effect.gen(function* () {
        let after: number | undefined
        for (;;) {
          const page = yield* store.outbox({ peer: link.peer, after, limit: OUTBOX_PAGE })
          if (page.length === 0) {
            yield* Queue.take(wake)
            continue
          }
          const written: Array<Id> = []
          // A failed write ends the pump (the session is over); what was written is still marked.
          yield* Effect.forEach(
            page,
            (m) =>
              Effect.tap(
                link.send({ _tag: "e2e.Message", id: m.id, sent: timestampOf(m.createdAt), body: m.body }),
                () => {
                  written.push(m.id)
                }
              ),
            { discard: true }
          ).pipe(
            Effect.ensuring(
              Effect.catchAll(
                Effect.flatMap(Clock.currentTimeMillis, (now) => store.markSentMany({ ids: written, now })),
                warn(`could not mark ${written.length} messages sent`)
              )
            )
          )
          after = page[page.length - 1]!.seq
        }
      })

    const onMessage = (link: PeerLink, message: AppMessage): Effect.Effect<boolean> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const peer = link.peer
        switch (message._tag) {
          case "e2e.Message": {
            const createdAt = timestampMillis(message.sent)
            if (!Number.isSafeInteger(createdAt)) {
              // The store refuses it alone (and says why); in a run it would refuse the whole run.
              const stored = yield* Effect.either(
                store.receive({ id: message.id, peer, body: message.body, createdAt, now })
              )
              if (stored._tag === "Left")
                yield* warn(`could not store message ${message.id} from ${peer}; not acknowledged`)(stored.left)
              else yield* Effect.ignore(link.send({ _tag: "e2e.Ack", id: message.id }))
              return true
            }
            yield* inbox.add(peer, { link, message })
            return true
          }
          case "e2e.Ack":
            yield* acks.add(peer, message.id)
            return true
          case "e2e.Read":
            yield* Effect.catchAll(
              Effect.asVoid(store.markRead({ peer, id: message.id, now })),
              warn(`could not record the read receipt of ${message.id}`)
            )
            return true
          case "e2e.Typing":
            if (config.typing) yield* publish({ _tag: "agent.Typing", peer, state: message.state })
            return true
          default:
            return false
        }
      })

    const plugin: SessionPlugin = {
      name: "messaging",
      onSessionUp: (link) =>
        Effect.gen(function* () {
          const wake = yield* Queue.sliding<void>(1)
          pumps.set(link.peer, wake)
          yield* pump(link, wake).pipe(
            Effect.catchTags({
              ChannelError: () => Effect.void,
              AgentStoreError: (e) => warn(`could not read the outbox for ${link.peer}`)(e)
            }),
            Effect.ensuring(
              Effect.sync(() => {
                if (pumps.get(link.peer) === wake) pumps.delete(link.peer)
              })
            )
          )
        }),
      onMessage,
      onData: () => Effect.void,
      // Data records are not ours: nothing to run per record.
      tryData: () => true,
      onSessionDown: () => Effect.void
    }

    return {
      plugin,
      notify: (peer) =>
        Effect.suspend(() => {
          const wake = pumps.get(peer)
          return wake === undefined ? Effect.void : Effect.asVoid(Queue.offer(wake, undefined))
        }),
      sendReads: (link, ids) =>
        Effect.forEach(ids, (id) => link.send({ _tag: "e2e.Read", id }), { discard: true }).pipe(
          Effect.as(true),
          Effect.orElseSucceed(() => false)
        )
    } satisfies Messaging
  })
