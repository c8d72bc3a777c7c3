/**
 * An in-memory `Agent` for tests of the control socket and the CLI: messages, contacts and transfers
 * in arrays, events on a PubSub, and helpers that play the peer's part (a message arrives, an `<Ack>`
 * comes back, a transfer makes progress). Every call is recorded in `calls`; `failWith` makes the
 * next call of a method fail.
 */
import { statSync } from "node:fs"
import { basename } from "node:path"
import { Effect, Layer, PubSub, Stream } from "effect"
import type { Contact, KeyChange } from "../../src/domain/agent/contacts.js"
import type { MessageState, StoredMessage } from "../../src/domain/agent/messages.js"
import type { FileEtag, OutgoingTransfer, Transfer } from "../../src/domain/agent/transfers.js"
import { Fingerprint, type Handle, type Id, makeAddress } from "../../src/domain/brands.js"
import { ulidFrom } from "../../src/domain/ulid.js"
import { Agent, AgentError, type AgentEvent, type AgentService, type AgentStatus } from "../../src/services/Agent.js"

/** The safety number every fake contact has (60 digits). */
export const FAKE_SAFETY_NUMBER = "0123456789".repeat(6)

export const fingerprintOf = (n: number): Fingerprint => Fingerprint.make(n.toString(16).padStart(64, "0"))

export interface FakeAgent {
  readonly service: AgentService
  readonly layer: Layer.Layer<Agent>
  readonly messages: Array<StoredMessage>
  readonly contacts: Array<Contact>
  readonly transfers: Array<Transfer>
  readonly calls: Array<{ readonly method: keyof AgentService; readonly args: ReadonlyArray<unknown> }>
  /** The next call of `method` fails with `error`. */
  readonly failWith: (method: keyof AgentService, error: AgentError) => void
  readonly emit: (event: AgentEvent) => Effect.Effect<void>
  /** A message from `peer` arrives (stored, `agent.MessageAdded`). */
  readonly receive: (peer: Handle, body: string) => Effect.Effect<StoredMessage>
  /** An outgoing message moves on (`agent.MessageUpdated`). */
  readonly advance: (id: Id, state: MessageState) => Effect.Effect<StoredMessage>
  /** An outgoing transfer makes progress, or ends (`agent.TransferProgress` / `agent.TransferUpdated`). */
  readonly progress: (id: Id, offset: number) => Effect.Effect<void>
  readonly finish: (id: Id, state: "done" | "failed" | "cancelled", detail?: string) => Effect.Effect<void>
  /** What `lookup` says of a handle of the same domain (default `active`). */
  readonly lookupStatus: Map<Handle, "unknown" | "revoked">
  /** Adds a contact (pinned, optionally with a pending key change). */
  readonly addContact: (handle: Handle, options?: { readonly keyChange?: boolean }) => Contact
}

const notFound = (what: string) => new AgentError({ reason: "NotFound", message: `${what}: check the handle or id` })

export const makeFakeAgent = (options: { readonly self: Handle; readonly now?: () => number }) =>
  Effect.gen(function* () {
    const pubsub = yield* PubSub.unbounded<AgentEvent>()
    const now = options.now ?? (() => 1_700_000_000_000)
    const messages: Array<StoredMessage> = []
    const contacts: Array<Contact> = []
    const keyChangeLog: Array<KeyChange> = []
    const transfers: Array<Transfer> = []
    const calls: Array<{ method: keyof AgentService; args: ReadonlyArray<unknown> }> = []
    const failures = new Map<keyof AgentService, AgentError>()
    let seq = 0
    const lookupStatus = new Map<Handle, "unknown" | "revoked">()
    const domainOf = (h: Handle) => h.slice(h.lastIndexOf("@") + 1)

    const newId = (): Id => {
      const random = new Uint8Array(10)
      new DataView(random.buffer).setUint32(6, ++seq)
      return ulidFrom(now(), random)
    }
    const emit = (event: AgentEvent) => Effect.asVoid(PubSub.publish(pubsub, event))
    const replace = <T extends { readonly id: Id }>(list: Array<T>, next: T) => {
      list[list.findIndex((x) => x.id === next.id)] = next
      return next
    }
    /** Records the call; fails when a failure was planted for it. */
    const enter = (method: keyof AgentService, ...args: ReadonlyArray<unknown>) =>
      Effect.suspend(() => {
        calls.push({ method, args })
        const failure = failures.get(method)
        failures.delete(method)
        return failure === undefined ? Effect.void : Effect.fail(failure)
      })
    const message = (peer: Handle, direction: "in" | "out", body: string): StoredMessage => {
      const t = now()
      return {
        seq: ++seq,
        id: newId(),
        peer,
        direction,
        body,
        state: direction === "out" ? "queued" : "received",
        at: t,
        createdAt: t,
        sentAt: null,
        deliveredAt: null,
        readAt: null,
        receivedAt: direction === "in" ? t : null,
        cancelledAt: null,
        expiredAt: null,
        attempts: 0
      }
    }

    const waitingItem = (m: StoredMessage) => ({
      id: m.id,
      peer: m.peer,
      kind: "message" as const,
      state: m.state === "queued" || m.state === "sent" ? m.state : ("cancelled" as const),
      summary: m.body,
      createdAt: m.createdAt,
      attempts: m.attempts,
      lastError: null,
      nextAttemptAt: null,
      expiresAt: m.createdAt + 7 * 86_400_000
    })

    const service: AgentService = {
      lookup: (peer) =>
        Effect.zipRight(
          enter("lookup", peer),
          Effect.sync(() => {
            const status: "active" | "unknown" | "revoked" | "otherDomain" =
              domainOf(peer) !== domainOf(options.self) ? "otherDomain" : (lookupStatus.get(peer) ?? "active")
            return { peer, status, online: status === "active", message: `${peer} is ${status}.` }
          })
        ),
      outbox: (query) =>
        Effect.zipRight(
          enter("outbox", query),
          Effect.sync(() =>
            messages
              .filter((m) => m.direction === "out" && (m.state === "queued" || m.state === "sent"))
              .filter((m) => query.peer === undefined || m.peer === query.peer)
              .map(waitingItem)
          )
        ),
      outboxCancel: (id) =>
        Effect.zipRight(
          enter("outboxCancel", id),
          Effect.suspend(() => {
            const m = messages.find((x) => x.id === id && x.direction === "out")
            if (m === undefined) return Effect.fail(notFound(`nothing waits with id ${id}`))
            if (m.state !== "queued" && m.state !== "sent")
              return Effect.fail(new AgentError({ reason: "Refused", message: `Message ${id} no longer waits.` }))
            return Effect.map(advance(id, "cancelled"), waitingItem)
          })
        ),
      send: (peer, body) =>
        Effect.zipRight(
          enter("send", peer, body),
          Effect.gen(function* () {
            const stored = message(peer, "out", body)
            messages.push(stored)
            yield* emit({ _tag: "agent.MessageAdded", message: stored })
            return stored
          })
        ),
      sendFile: (peer, path) =>
        Effect.zipRight(
          enter("sendFile", peer, path),
          Effect.gen(function* () {
            const size = yield* Effect.try({ try: () => statSync(path).size, catch: () => notFound(`no file ${path}`) })
            const t = now()
            const transfer: OutgoingTransfer = {
              seq: ++seq,
              peer,
              id: newId(),
              size,
              sha256: null,
              etag: "fake" as FileEtag,
              chunk: 65_536,
              detail: null,
              createdAt: t,
              updatedAt: t,
              direction: "out",
              path,
              name: basename(path),
              ackedOffset: 0,
              state: "offered"
            }
            transfers.push(transfer)
            yield* emit({ _tag: "agent.TransferUpdated", transfer })
            return transfer
          })
        ),
      cancel: (id) =>
        Effect.zipRight(
          enter("cancel", id),
          Effect.suspend(() => {
            const m = messages.find((x) => x.id === id && x.direction === "out")
            if (m !== undefined) return Effect.asVoid(advance(id, "cancelled"))
            const t = transfers.find((x) => x.id === id)
            if (t !== undefined) return finish(id, "cancelled")
            return Effect.fail(notFound(`no message or transfer ${id}`))
          })
        ),
      acceptFile: (peer, id) =>
        Effect.zipRight(
          enter("acceptFile", id),
          Effect.suspend(() => {
            const t = transfers.find((x) => x.id === id && x.peer === peer && x.direction === "in")
            return t === undefined ? Effect.fail(notFound(`no incoming file ${id} from ${peer}`)) : Effect.void
          })
        ),
      history: (query) =>
        Effect.zipRight(
          enter("history", query),
          Effect.sync(() => {
            const before = query.before
            const selected = messages
              .filter((m) => query.peer === undefined || m.peer === query.peer)
              .filter((m) => before === undefined || m.at < before.at || (m.at === before.at && m.seq < before.seq))
              .sort((a, b) => a.at - b.at || a.seq - b.seq)
            return selected.slice(Math.max(0, selected.length - (query.limit ?? 100)))
          })
        ),
      contacts: Effect.zipRight(
        Effect.suspend(() => enter("contacts")),
        Effect.sync(() => [...contacts])
      ),
      contact: (peer) =>
        Effect.zipRight(
          enter("contact", peer),
          Effect.suspend(() => {
            const c = contacts.find((x) => x.handle === peer)
            return c === undefined ? Effect.fail(notFound(`no contact ${peer}`)) : Effect.succeed(c)
          })
        ),
      trust: (peer) =>
        Effect.zipRight(
          enter("trust", peer),
          Effect.suspend(() => {
            const c = contacts.find((x) => x.handle === peer)
            if (c === undefined) return Effect.fail(notFound(`no contact ${peer}`))
            if (c.pendingKeyChange === null)
              return Effect.fail(
                new AgentError({ reason: "BadRequest", message: `${peer} has no key change to accept` })
              )
            const change: KeyChange = { ...c.pendingKeyChange, status: "accepted", resolvedAt: now() }
            keyChangeLog[keyChangeLog.findIndex((k) => k.seq === change.seq)] = change
            contacts[contacts.indexOf(c)] = {
              ...c,
              fingerprint: change.current,
              pendingKeyChange: null,
              lastKeyChange: change,
              verified: false,
              verifiedAt: null
            }
            return emit({ _tag: "agent.KeyChanged", change })
          })
        ),
      verify: (peer, safetyNumber) =>
        Effect.zipRight(
          enter("verify", peer, safetyNumber),
          Effect.suspend(() => {
            const c = contacts.find((x) => x.handle === peer)
            if (c === undefined) return Effect.fail(notFound(`no contact ${peer}`))
            if (safetyNumber.replace(/\s+/g, "") !== c.safetyNumber)
              return Effect.fail(new AgentError({ reason: "BadRequest", message: "not the current safety number" }))
            const verified: Contact = { ...c, verified: true, verifiedFingerprint: c.fingerprint, verifiedAt: now() }
            contacts[contacts.indexOf(c)] = verified
            return Effect.succeed(verified)
          })
        ),
      keyChanges: (peer) =>
        Effect.zipRight(
          enter("keyChanges", peer),
          Effect.sync(() => keyChangeLog.filter((k) => peer === undefined || k.handle === peer))
        ),
      // Federation (PROTOCOL.md §22.3): the fake knows no other domain.
      domainInfo: (domain) =>
        Effect.zipRight(
          enter("domainInfo", domain),
          Effect.fail(new AgentError({ reason: "Unavailable", message: `${domain} cannot be asked about.` }))
        ),
      trustDomain: (domain) =>
        Effect.zipRight(enter("trustDomain", domain), Effect.fail(notFound(`no change of ${domain} waits`))),
      domainKeyChanges: (domain) => Effect.zipRight(enter("domainKeyChanges", domain), Effect.succeed([])),
      markRead: (peer) =>
        Effect.zipRight(
          enter("markRead", peer),
          Effect.gen(function* () {
            const unread = messages.filter((m) => m.peer === peer && m.direction === "in" && m.state === "received")
            for (const m of unread) {
              const read = replace(messages, { ...m, state: "read" as const, readAt: now() })
              yield* emit({ _tag: "agent.MessageUpdated", message: read })
            }
            return unread.length
          })
        ),
      typing: (peer, state) => enter("typing", peer, state),
      transfers: (peer) =>
        Effect.zipRight(
          enter("transfers", peer),
          Effect.sync(() => transfers.filter((t) => peer === undefined || t.peer === peer))
        ),
      status: Effect.zipRight(
        Effect.suspend(() => enter("status")),
        Effect.sync(
          (): AgentStatus => ({
            handle: options.self,
            deviceId: "test-device",
            fingerprint: fingerprintOf(1),
            listening: [makeAddress("::1", 4605)],
            registered: [],
            sessions: [],
            outbox: messages.filter((m) => m.state === "queued" || m.state === "sent").length
          })
        )
      ),
      events: Stream.fromPubSub(pubsub)
    }

    const receive = (peer: Handle, body: string) =>
      Effect.gen(function* () {
        const stored = message(peer, "in", body)
        messages.push(stored)
        yield* emit({ _tag: "agent.MessageAdded", message: stored })
        return stored
      })

    const advance = (id: Id, state: MessageState) =>
      Effect.gen(function* () {
        const m = messages.find((x) => x.id === id)
        if (m === undefined) return yield* Effect.die(`no message ${id}`)
        const t = now()
        const next = replace(messages, {
          ...m,
          state,
          sentAt: state === "sent" ? t : m.sentAt,
          deliveredAt: state === "delivered" ? t : m.deliveredAt,
          readAt: state === "read" ? t : m.readAt,
          cancelledAt: state === "cancelled" ? t : m.cancelledAt,
          expiredAt: state === "expired" ? t : m.expiredAt
        })
        yield* emit({ _tag: "agent.MessageUpdated", message: next })
        return next
      })

    const outgoing = (id: Id) => transfers.find((t): t is OutgoingTransfer => t.id === id && t.direction === "out")

    const progress = (id: Id, offset: number) =>
      Effect.suspend(() => {
        const t = outgoing(id)
        if (t === undefined) return Effect.die(`no transfer ${id}`)
        replace(transfers, { ...t, ackedOffset: offset, state: "sending" })
        return emit({
          _tag: "agent.TransferProgress",
          ref: { direction: "out", peer: t.peer, id },
          offset,
          size: t.size
        })
      })

    const finish = (id: Id, state: "done" | "failed" | "cancelled", detail?: string) =>
      Effect.suspend(() => {
        const t = outgoing(id)
        if (t === undefined) return Effect.die(`no transfer ${id}`)
        const next = replace(transfers, {
          ...t,
          state,
          detail: detail ?? null,
          ackedOffset: state === "done" ? t.size : t.ackedOffset,
          updatedAt: now()
        } as Transfer)
        return emit({ _tag: "agent.TransferUpdated", transfer: next })
      })

    const addContact = (handle: Handle, contactOptions?: { readonly keyChange?: boolean }): Contact => {
      const t = now()
      const contact: Contact = {
        handle,
        fingerprint: fingerprintOf(2),
        pinnedAt: t,
        lastHandshakeAt: t,
        issuer: "",
        spki: null,
        sessionCode: "1234 5678 9012",
        sessionCodeAt: t,
        lastMessageAt: null,
        unread: 0,
        outbox: 0,
        pendingKeyChange: null,
        lastKeyChange: null,
        verifiedFingerprint: null,
        verifiedOwn: null,
        verifiedAt: null,
        safetyNumber: FAKE_SAFETY_NUMBER,
        verified: false
      }
      const change: KeyChange | null =
        contactOptions?.keyChange === true
          ? {
              seq: keyChangeLog.length + 1,
              handle,
              at: t,
              previous: fingerprintOf(2),
              current: fingerprintOf(3),
              previousIssuer: "",
              currentIssuer: "",
              returning: false,
              status: "pending",
              resolvedAt: null
            }
          : null
      if (change !== null) keyChangeLog.push(change)
      const added: Contact = { ...contact, pendingKeyChange: change, lastKeyChange: change }
      contacts.push(added)
      return added
    }

    const fake: FakeAgent = {
      service,
      layer: Layer.succeed(Agent, service),
      messages,
      contacts,
      transfers,
      calls,
      failWith: (method, error) => void failures.set(method, error),
      emit,
      receive,
      advance,
      progress,
      finish,
      lookupStatus,
      addContact
    }
    return fake
  })
