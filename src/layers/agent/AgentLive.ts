/**
 * The User Agent (issue 4; agent architecture note): the `Agent` port over the session manager, the
 * messaging plugin, the delivery pump and any extra plugins (the file transfers).
 *
 *     AgentLive.layerWith(config, presenceLayer)    // binds the listeners, then Presence, then the agent
 *
 * Requirements: the agent's listening sockets (`AgentListeners`, bound first so that Presence can
 * register the real ports), Transport, CertVerifier, the crypto ports, Entropy, AgentStore,
 * Directory and Presence. Scoped: closing it closes every session with `<Close/>`; Presence, built
 * outside, deregisters when its own scope closes.
 */
import { Clock, Duration, Effect, Layer, Option, PubSub, Schedule, Schema, type Scope, Stream } from "effect"
import type { AgentStoreError } from "../../domain/agent/errors.js"
import type { Address, Handle, Id } from "../../domain/brands.js"
import { MessageBody } from "../../domain/e2e/messages.js"
import type { LocalIdentity } from "../../domain/handshake/parameters.js"
import { ulidFrom } from "../../domain/ulid.js"
import { Agent, AgentError, type AgentEvent, type AgentService } from "../../services/Agent.js"
import { AgentStore } from "../../services/AgentStore.js"
import type { CertVerifier } from "../../services/CertVerifier.js"
import type { Aead, Hashing, KeyExchange, Signer } from "../../services/Crypto.js"
import { Directory } from "../../services/Directory.js"
import { DomainRoots } from "../../services/DomainRoots.js"
import { Entropy } from "../../services/Entropy.js"
import { PeerStatus } from "../../services/PeerStatus.js"
import { Presence } from "../../services/Presence.js"
import type { Transport, TransportError } from "../../services/Transport.js"
import { e2eCodec, make as makeChannels } from "../channel/SecureChannelLive.js"
import { makeContactView } from "./contactView.js"
import * as Delivery from "./core/Delivery.js"
import * as Listeners from "./core/Listeners.js"
import { type AgentOptions, resolveOptions } from "./core/options.js"
import type { AgentCore, FilesFeature, SessionPlugin } from "./core/plugin.js"
import * as RevocationGuard from "./core/revocationGuard.js"
import * as SessionManager from "./core/SessionManager.js"
import { makeDomainView } from "./domainView.js"
import * as Messaging from "./messaging/Messaging.js"
import { makeOutboxView, sweepInterval } from "./outboxView.js"

export interface AgentConfig<R = never> {
  /** Our handle (the CN / SAN of `identity`'s certificate). */
  readonly handle: Handle
  readonly identity: LocalIdentity
  /** When given, the identity new handshakes present, read at each (a renewed certificate, 17.4.8). */
  readonly identityNow?: (() => LocalIdentity) | undefined
  /** This device's stable id (its IRP binding). */
  readonly deviceId: string
  /** The identity home (for the record; the store and files layers are built from it outside). */
  readonly home?: string | undefined
  /** Where to listen (`layerWith` only; default `[::]:4605` and `0.0.0.0:4605`). */
  readonly listen?: ReadonlyArray<Address> | undefined
  readonly options?: Partial<AgentOptions> | undefined
  /** More session plugins, asked after messaging and files. */
  readonly plugins?: ReadonlyArray<SessionPlugin> | undefined
  /** The file transfer feature, built over the agent's core; without it `sendFile` is `Unavailable`. */
  readonly files?: ((core: AgentCore) => Effect.Effect<FilesFeature, AgentError, R | Scope.Scope>) | undefined
}

/** What an agent needs besides its listeners and Presence. */
export type AgentRequirements =
  | Transport
  | CertVerifier
  | Hashing
  | Aead
  | KeyExchange
  | Signer
  | Entropy
  | AgentStore
  | Directory

const storeError = (e: AgentStoreError): AgentError =>
  new AgentError({
    reason:
      e.reason === "NotFound" || e.reason === "NoKeyChange"
        ? "NotFound"
        : e.reason === "TooLate"
          ? "Refused"
          : e.reason === "Conflict" || e.reason === "InvalidArgument"
            ? "BadRequest"
            : "Storage",
    message: e.message,
    cause: e
  })

const isMessageBody = Schema.is(MessageBody)

export const make = <R = never>(
  config: AgentConfig<R>
): Effect.Effect<AgentService, AgentError, AgentRequirements | Presence | Listeners.AgentListeners | Scope.Scope | R> =>
  Effect.gen(function* () {
    const store = yield* AgentStore
    const directory = yield* Directory
    const presence = yield* Presence
    const entropy = yield* Entropy
    const listeners = yield* Listeners.AgentListeners
    const options = resolveOptions(config.options)
    const self = config.handle
    // PROTOCOL.md §13.6: with a status source, staple our own status and gate every peer on theirs.
    const peerStatus = Option.getOrUndefined(yield* Effect.serviceOption(PeerStatus))
    const withStaple = (identity: LocalIdentity): LocalIdentity =>
      peerStatus === undefined ? identity : { ...identity, staple: peerStatus.ownStaple }
    const identityNow = config.identityNow
    const channels = yield* makeChannels({
      codec: e2eCodec,
      identity: withStaple(config.identity),
      identityNow: identityNow === undefined ? undefined : () => withStaple(identityNow()),
      options: options.channel
    })
    const hub = yield* Effect.acquireRelease(PubSub.sliding<AgentEvent>(4096), PubSub.shutdown)
    const publish = (event: AgentEvent) => Effect.asVoid(PubSub.publish(hub, event))

    const manager = yield* SessionManager.make({
      self,
      identity: config.identity,
      options,
      channels,
      store,
      directory,
      publish,
      peerStatus
    })
    // Issue 10 §2: live sessions whose certificate is revoked end with `certificate_revoked`.
    const guard = yield* RevocationGuard.make({ directory, manager })
    if (guard !== undefined) yield* manager.addPlugin(guard)
    const messaging = yield* Messaging.make({ store, typing: options.typing, publish })
    yield* manager.addPlugin(messaging.plugin)
    const files = config.files === undefined ? undefined : yield* config.files(manager)
    if (files !== undefined) yield* manager.addPlugin(files.plugin)
    for (const plugin of config.plugins ?? []) yield* manager.addPlugin(plugin)
    const delivery = yield* Delivery.make({
      store,
      directory,
      manager,
      entropy,
      maxDials: options.maxDials,
      events: PubSub.subscribe(hub),
      extraPeers:
        files?.pendingPeers === undefined
          ? undefined
          : Effect.orElseSucceed(files.pendingPeers, (): ReadonlyArray<Handle> => [])
    })

    // What Presence says, for `status` and subscribers.
    let registrationExpiresAt: number | undefined
    let natSuspected: Address | undefined
    yield* Effect.forkScoped(
      Stream.runForEach(presence.events, (event) => {
        switch (event._tag) {
          case "Registered":
            registrationExpiresAt = event.expiresAt
            return Effect.void
          case "NatSuspected":
            natSuspected = event.observed
            return publish({
              _tag: "agent.Presence",
              message: `The IRP sees this device at ${event.observed.host}, an address it did not register: a NAT is probably in the way, and peers may not reach it.`
            })
          case "RegistrationFailed":
            return publish({ _tag: "agent.Presence", message: event.message })
          case "Deregistered":
            registrationExpiresAt = undefined
            return Effect.void
        }
      })
    )
    yield* manager.serve(listeners.listeners)

    // Issue 13, item 4: what cannot be delivered is given up after `outboxExpiry` (logged, shown as failed).
    const outboxView = makeOutboxView({ self, store, directory, files, expiryMs: options.outboxExpiryMs })
    yield* Effect.forkScoped(
      Effect.repeat(outboxView.sweep, Schedule.spaced(Duration.millis(sweepInterval(options.outboxExpiryMs))))
    )

    const now = Clock.currentTimeMillis
    // PROTOCOL.md §22.3.3: foreign domains' roots, when the agent has an IRP to ask.
    const roots = Option.getOrUndefined(yield* Effect.serviceOption(DomainRoots))
    const domains = makeDomainView({ self, store, roots, kick: delivery.kick })
    const unavailable = new AgentError({
      reason: "Unavailable",
      message: "File transfer is not available in this agent; update SixChat or send the file another way."
    })

    const view = makeContactView(self, config.identity, store)
    const contact = Effect.fn("Agent.contact")(function* (peer: Handle) {
      const found = yield* Effect.mapError(store.contact(peer), storeError)
      if (found === undefined)
        return yield* new AgentError({
          reason: "NotFound",
          message: `${peer} is not a contact yet: send them a message or wait for theirs.`
        })
      const keys = yield* Effect.mapError(store.contactKeys(peer), storeError)
      return { ...view.decorate(found), keys }
    })

    const service: AgentService = {
      send: Effect.fn("Agent.send")(function* (peer, body) {
        if (peer === self)
          return yield* new AgentError({ reason: "BadRequest", message: "You cannot send a message to yourself." })
        if (!isMessageBody(body))
          return yield* new AgentError({
            reason: "BadRequest",
            message:
              "The message cannot be sent: it must be at most 64 000 bytes of text (characters such as & count 5), without control characters; shorten it or split it."
          })
        const at = yield* now
        const id = ulidFrom(at, entropy.bytes(10))
        const stored = yield* Effect.mapError(store.enqueue({ id, peer, body, now: at }), storeError)
        yield* messaging.notify(peer)
        yield* delivery.kick(peer)
        return stored
      }),
      lookup: Effect.fn("Agent.lookup")(function* (peer) {
        if (peer === self)
          return yield* new AgentError({ reason: "BadRequest", message: "You cannot send a message to yourself." })
        return yield* outboxView.lookup(peer)
      }),
      outbox: (query) => outboxView.outbox(query),
      outboxCancel: (id) => outboxView.outboxCancel(id),
      sendFile: Effect.fn("Agent.sendFile")(function* (peer, path) {
        if (files === undefined) return yield* unavailable
        return yield* files.sendFile(peer, path)
      }),
      cancel: Effect.fn("Agent.cancel")(function* (id: Id) {
        const at = yield* now
        const cancelled = yield* Effect.either(store.cancel({ id, now: at }))
        if (cancelled._tag === "Right") return
        if (cancelled.left.reason === "NotFound" && files !== undefined && (yield* files.cancel(id))) return
        return yield* storeError(cancelled.left)
      }),
      acceptFile: Effect.fn("Agent.acceptFile")(function* (peer, id) {
        if (files === undefined) return yield* unavailable
        return yield* files.accept(peer, id)
      }),
      history: (query) =>
        Effect.mapError(store.history({ peer: query.peer, limit: query.limit, before: query.before }), storeError),
      contacts: Effect.map(Effect.mapError(store.contacts(), storeError), (all) => all.map(view.summary)),
      contact,
      verify: Effect.fn("Agent.verify")(function* (peer, safetyNumber) {
        yield* Effect.mapError(view.verify(yield* contact(peer), safetyNumber, yield* now), (e) =>
          e._tag === "AgentError" ? e : storeError(e)
        )
        return yield* contact(peer)
      }),
      keyChanges: (peer) => Effect.mapError(store.keyChanges(peer), storeError),
      domainInfo: domains.info,
      trustDomain: domains.trust,
      domainKeyChanges: (domain) => Effect.mapError(store.domainKeyChanges(domain), storeError),
      trust: Effect.fn("Agent.trust")(function* (peer) {
        yield* Effect.mapError(store.acceptKey({ handle: peer, now: yield* now }), storeError)
        yield* delivery.kick(peer)
      }),
      markRead: Effect.fn("Agent.markRead")(function* (peer) {
        const ids = yield* Effect.mapError(store.markConversationRead({ peer, now: yield* now }), storeError)
        if (options.receipts && ids.length > 0) {
          const link = yield* manager.link(peer)
          if (link._tag === "Some") yield* messaging.sendReads(link.value, ids)
        }
        return ids.length
      }),
      typing: Effect.fn("Agent.typing")(function* (peer, state) {
        if (!options.typing) return
        const link = yield* manager.link(peer)
        if (link._tag === "Some") yield* Effect.ignore(link.value.send({ _tag: "e2e.Typing", state }))
      }),
      transfers: (peer) =>
        files !== undefined ? files.transfers(peer) : Effect.mapError(store.transfers({ peer }), storeError),
      status: Effect.gen(function* () {
        const outbox = yield* Effect.mapError(store.peersWithOutbox(), storeError)
        const failed = yield* Effect.mapError(store.failedCount(), storeError)
        return {
          handle: self,
          deviceId: config.deviceId,
          fingerprint: config.identity.fingerprint,
          listening: listeners.addresses,
          registered: yield* presence.current,
          ...(registrationExpiresAt === undefined ? {} : { registrationExpiresAt }),
          ...(natSuspected === undefined ? {} : { natSuspected }),
          sessions: yield* manager.sessions,
          outbox: outbox.reduce((n, p) => n + p.pending, 0),
          failed
        }
      }),
      events: Stream.merge(store.changes, Stream.fromPubSub(hub))
    }
    return service
  })

/** The agent, given its listeners and Presence. */
export const layer = <R = never>(
  config: AgentConfig<R>
): Layer.Layer<Agent, AgentError, AgentRequirements | Presence | Listeners.AgentListeners | R> =>
  Layer.scoped(Agent, make(config))

/**
 * Binds the listeners (`config.listen`), builds `presence` over them, then the agent. The result
 * also exposes the listeners and Presence.
 */
export const layerWith = <R = never, E = never, RP = never>(
  config: AgentConfig<R>,
  presence: Layer.Layer<Presence, E, RP>
): Layer.Layer<
  Agent | Presence | Listeners.AgentListeners,
  AgentError | TransportError | E,
  AgentRequirements | R | Exclude<RP, Listeners.AgentListeners>
> => layer(config).pipe(Layer.provideMerge(presence), Layer.provideMerge(Listeners.layer(config.listen)))
