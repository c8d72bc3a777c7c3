/**
 * Two agents' file-transfer plugins, each with its own SQLite store and home, joined by two real
 * SecureChannels over an in-memory pipe or TCP loopback, with a tiny session loop standing in for the
 * agent core (receive -> plugin.onMessage / onData; onSessionUp / onSessionDown around it).
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Clock, Context, Effect, Fiber, Layer, type Scope } from "effect"
import { encodeFileRecord, fileIdBytes } from "../../../src/domain/agent/fileRecord.js"
import type { Transfer, TransferRef } from "../../../src/domain/agent/transfers.js"
import { type Handle, type Id, makeAddress } from "../../../src/domain/brands.js"
import type { AppMessage } from "../../../src/domain/e2e/messages.js"
import { ulidFrom } from "../../../src/domain/ulid.js"
import type { PeerLink, SessionPlugin } from "../../../src/layers/agent/core/plugin.js"
import * as FileTransfers from "../../../src/layers/agent/files/FileTransfers.js"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import { AgentStore, type AgentStoreService } from "../../../src/services/AgentStore.js"
import type { SecureChannel } from "../../../src/services/SecureChannel.js"
import type { Connection } from "../../../src/services/Transport.js"
import { channelsFor } from "../../support/channels.js"
import { makeTestPki, type TestIdentity } from "../../support/identities.js"
import { pipe } from "../../support/pipe.js"

export type Chan = SecureChannel<AppMessage, AppMessage>

export const pki = makeTestPki()
export const aliceId = pki.identity("alice@example.org")
export const bobId = pki.identity("bob@example.org")
export const alice = "alice@example.org" as Handle
export const bob = "bob@example.org" as Handle
const anchors = [pki.caDer]

/** A fresh directory, removed when the scope closes. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sixchat-files-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

export interface Side {
  readonly handle: Handle
  readonly identity: TestIdentity
  readonly home: string
  readonly downloads: string
  readonly store: AgentStoreService
  readonly files: FileTransfers.FileTransfersService
}

export interface SideOptions extends Partial<FileTransfers.FileTransfersOptions> {
  /** Reuse a home (a restart); a new temporary one otherwise. */
  readonly home?: string
}

/** One agent: store in `home/agent.db`, plugin with downloads in `home/downloads`, for the enclosing scope. */
export const makeSide = (
  identity: TestIdentity,
  options: SideOptions = {}
): Effect.Effect<Side, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const home = options.home ?? (yield* tempDir)
    const context = yield* Layer.build(
      AgentStoreLive.layer(join(home, AgentStoreLive.DATABASE_FILE), { progress: { publishBytes: 256 * 1024 } })
    )
    const store = Context.get(context, AgentStore)
    const downloads = join(home, "downloads")
    // Two strangers in these tests: accept from anyone unless a test sets its own policy.
    const policy = options.policy ?? { _tag: "UpTo", maxBytes: 4 * 1024 ** 3, from: "anyone" }
    const files = yield* FileTransfers.make({ ...options, policy, downloadsDir: downloads }).pipe(
      Effect.provideService(AgentStore, store),
      Effect.provide(EntropyLive.layer)
    )
    return { handle: identity.handle as Handle, identity, home, downloads, store, files }
  })

export interface Hooks {
  /** Wraps the link the plugin is given (record, tamper). */
  readonly wrapLink?: (link: PeerLink) => PeerLink
  /**
   * After each data record was handled (count from 1). `"cut"` kills the connection there: the loop
   * stops reading at once (records already in flight are lost, as on a real reset).
   */
  readonly afterData?: (count: number) => Effect.Effect<"continue" | "cut">
}

/** The stand-in for the agent core's per-session receive loop. */
export const runSession = (
  store: AgentStoreService,
  plugin: SessionPlugin,
  chan: Chan,
  connection: Connection,
  hooks: Hooks = {}
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const peer = chan.peer.handle!
    // As the core does after each handshake: pin the peer's key .
    yield* Effect.orDie(
      store.pinContact({
        handle: peer,
        fingerprint: chan.peer.certificate!.fingerprint,
        now: yield* Clock.currentTimeMillis
      })
    )
    const base: PeerLink = { peer, send: chan.send, sendData: chan.sendData, channel: chan }
    const link = hooks.wrapLink?.(base) ?? base
    yield* plugin.onSessionUp(link)
    let records = 0
    // Bounded by the channel: it ends with Closed, or fails once the connection is cut.
    for (;;) {
      const inbound = yield* Effect.either(chan.receive)
      if (inbound._tag === "Left" || inbound.right._tag === "Closed") break
      const item = inbound.right
      if (item._tag === "Message") {
        const handled = yield* plugin.onMessage(link, item.message)
        if (!handled) yield* Effect.logDebug(`test session: unhandled ${item.message._tag}`)
      } else {
        // As the session loop does: the plain call first, the effect when it declines.
        if (plugin.tryData?.(link, item.data) !== true) yield* plugin.onData(link, item.data)
        records++
        if (hooks.afterData !== undefined && (yield* hooks.afterData(records)) === "cut") {
          yield* connection.destroy
          break
        }
      }
    }
  }).pipe(
    Effect.ensuring(
      plugin.onSessionDown(chan.peer.handle!, {
        peer: chan.peer.handle!,
        send: chan.send,
        sendData: chan.sendData,
        channel: chan
      })
    )
  )

export interface Connected {
  /** Kills the connection underneath (both loops end, both plugins see the session down). */
  readonly cut: Effect.Effect<void>
  /** Waits until both session loops have ended. */
  readonly ended: Effect.Effect<void>
  /** The initiator's fiber (a `raw` user's result). */
  readonly initiator: Fiber.Fiber<unknown, unknown>
}

/** A raw connection pair: in-memory pipe or TCP over 127.0.0.1. */
const connectionPair = (transport: "pipe" | "tcp") =>
  transport === "pipe"
    ? Effect.succeed(pipe())
    : Effect.gen(function* () {
        const tcp = yield* TcpTransport.make
        const listener = yield* tcp.listen(makeAddress("127.0.0.1", 0))
        const dialed = yield* Effect.fork(tcp.dial(listener.address))
        const accepted = yield* listener.accept
        return [yield* Fiber.join(dialed), accepted] as const
      })

/**
 * Connects `a` (initiator) to `b` (responder) and runs both session loops in the background until
 * the connection ends or the scope closes. Either side may be a plain channel user (`raw`) instead.
 */
export const connect = (
  a:
    | { readonly side: Side; readonly hooks?: Hooks }
    | { readonly raw: TestIdentity; readonly use: (chan: Chan) => Effect.Effect<unknown, unknown> },
  b: { readonly side: Side; readonly hooks?: Hooks },
  transport: "pipe" | "tcp" = "pipe"
): Effect.Effect<Connected, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const [ca, cb] = yield* connectionPair(transport)
    const aIdentity = "side" in a ? a.side.identity : a.raw
    const chA = yield* channelsFor({ identity: aIdentity, anchors })
    const chB = yield* channelsFor({ identity: b.side.identity, anchors })
    const fb = yield* Effect.forkScoped(
      Effect.scoped(
        Effect.flatMap(chB.accept(cb), (chan) => runSession(b.side.store, b.side.files.plugin, chan, cb, b.hooks))
      )
    )
    const fa = yield* Effect.forkScoped(
      Effect.scoped(
        Effect.flatMap(chA.initiate(ca, { _tag: "Handle", handle: b.side.handle }), (chan) =>
          "side" in a ? runSession(a.side.store, a.side.files.plugin, chan, ca, a.hooks) : a.use(chan)
        )
      )
    )
    return {
      cut: ca.destroy,
      ended: Effect.asVoid(Effect.all([Fiber.await(fa), Fiber.await(fb)])),
      initiator: fa
    }
  })

/** Polls the store (every 20 ms, at most ~25 s) until `ref` satisfies `done`; fails with the last state otherwise. */
export const waitFor = (
  side: Side,
  ref: TransferRef,
  done: (t: Transfer) => boolean,
  what = "the expected state"
): Effect.Effect<Transfer, Error> =>
  Effect.gen(function* () {
    let last: Transfer | undefined
    for (let i = 0; i < 1250; i++) {
      last = yield* Effect.orDie(side.store.transfer(ref))
      if (last !== undefined && done(last)) return last
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.fail(
      new Error(`${side.handle}: ${ref.direction} ${ref.id} never reached ${what}: ${JSON.stringify(last)}`)
    )
  })

export const inState = (state: Transfer["state"]) => (t: Transfer) => t.state === state

/** Every file below `dir` (relative paths), `.partial` included. */
export const listFiles = (dir: string): Array<string> => {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
      .sort()
  } catch {
    return []
  }
}

export const refs = (id: Transfer["id"]) => ({
  out: { direction: "out", peer: bob, id } as TransferRef,
  in: { direction: "in", peer: alice, id } as TransferRef
})

/** Hand-written sender steps over a bare channel (a peer that may lie). */
export const raw = {
  /** The next message that `pick` accepts (other messages and data are skipped; at most 1000 items). */
  await: <A>(chan: Chan, pick: (m: AppMessage) => A | undefined): Effect.Effect<A, unknown> =>
    Effect.gen(function* () {
      for (let i = 0; i < 1000; i++) {
        const item = yield* chan.receive
        if (item._tag === "Closed") break
        if (item._tag === "Message") {
          const got = pick(item.message)
          if (got !== undefined) return got
        }
      }
      return yield* Effect.fail(new Error("the expected message never came"))
    }),
  /** Offers `content` (one record) under `id` and `name`; waits for the answer to the offer. */
  offer: (chan: Chan, id: Id, name: string, content: Uint8Array) =>
    Effect.zipRight(
      chan.send({
        _tag: "e2e.FileOffer",
        id,
        name,
        size: BigInt(content.length),
        etag: "raw-1",
        chunk: 65_512
      }),
      raw.answer(chan, id)
    ),
  /** `<FileAccept>` or `<FileCancel>` for `id`. */
  answer: (chan: Chan, id: Id) =>
    raw.await(chan, (m) =>
      (m._tag === "e2e.FileAccept" || m._tag === "e2e.FileCancel") && m.id === id ? m : undefined
    ),
  /**
   * Sends `content` as one record at `offset`, then `<FileDone sha256>` (by default the SHA-256 of
   * `content`, the whole file when it is one record); waits for `<FileAck>` or `<FileCancel>`.
   */
  finish: (chan: Chan, id: Id, content: Uint8Array, offset = 0, sha256?: Uint8Array) =>
    Effect.gen(function* () {
      yield* chan.sendData(encodeFileRecord(fileIdBytes(id), offset, content))
      yield* chan.send({
        _tag: "e2e.FileDone",
        id,
        sha256: sha256 ?? createHash("sha256").update(content).digest()
      })
      return yield* raw.await(chan, (m) =>
        (m._tag === "e2e.FileAck" || m._tag === "e2e.FileCancel") && m.id === id ? m : undefined
      )
    })
}

/** A fresh ULID. */
export const freshId = (): Id => ulidFrom(Date.now(), randomBytes(10))
