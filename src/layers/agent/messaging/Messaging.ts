/**
 * The messaging plugin (brief section 7; issue 4, section 2): nothing is lost.
 *
 * * Inbound `<Message>`: stored (`store.receive`, durable) THEN `<Ack id>`, for a new message and a
 *   duplicate alike: the Ack is the receiver's "stored". A message the store could not take is not
 *   acknowledged, so the sender keeps it and resends it.
 * * `<Ack>` → `markDelivered`; `<Read>` → `markRead`; `<Typing>` → an `agent.Typing` event (when
 *   typing notices are on).
 * * Outbound: one pump per session sends the peer's whole outbox, oldest first, each once per
 *   session (`markSent` after the write), then whatever is enqueued while the session lasts. A new
 *   session starts again from the oldest unacknowledged message: resending is how a lost message
 *   or a lost Ack is repaired, and the receiver deduplicates by id.
 */
import { Clock, Effect, Queue } from "effect"
import { timestampMillis, timestampOf } from "../../../domain/agent/messages.js"
import type { Handle, Id } from "../../../domain/brands.js"
import type { AppMessage } from "../../../domain/e2e/messages.js"
import type { AgentEvent } from "../../../services/Agent.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { PeerLink, SessionPlugin } from "../core/plugin.js"

/** Outbox rows read per round trip to the store while flushing. */
export const OUTBOX_PAGE = 100

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

export const make = (config: MessagingConfig): Effect.Effect<Messaging> =>
  Effect.sync(() => {
    const { store, publish } = config
    const pumps = new Map<Handle, Queue.Queue<void>>()

    const warn = (what: string) => (e: { readonly message: string }) =>
      Effect.logWarning(`agent messaging: ${what}: ${e.message}`)

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
          for (const m of page) {
            yield* link.send({ _tag: "e2e.Message", id: m.id, sent: timestampOf(m.createdAt), body: m.body })
            yield* Effect.catchAll(
              Effect.flatMap(Clock.currentTimeMillis, (now) => store.markSent({ id: m.id, now })),
              warn(`could not mark ${m.id} sent`)
            )
            after = m.seq
          }
        }
      })

    const onMessage = (link: PeerLink, message: AppMessage): Effect.Effect<boolean> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const peer = link.peer
        switch (message._tag) {
          case "e2e.Message": {
            const stored = yield* Effect.either(
              store.receive({
                id: message.id,
                peer,
                body: message.body,
                createdAt: timestampMillis(message.sent),
                now
              })
            )
            if (stored._tag === "Left") {
              yield* warn(`could not store message ${message.id} from ${peer}; not acknowledged`)(stored.left)
              return true
            }
            // Brief section 7: the Ack says "stored", and goes out for duplicates too.
            yield* Effect.ignore(link.send({ _tag: "e2e.Ack", id: message.id }))
            return true
          }
          case "e2e.Ack":
            yield* Effect.catchAll(
              Effect.asVoid(store.markDelivered({ peer, id: message.id, now })),
              warn(`could not record the Ack of ${message.id}`)
            )
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
