/**
 * FileTransfers: the User Agent's file-transfer plugin (PROTOCOL.md §15; docs/PROTOCOL.md 5.4, 15.6;
 * issue 4, section 3). The core registers `plugin` with its session manager and calls `sendFile`,
 * `accept` and `cancel` from the `Agent` port; `progress` feeds the CLI's progress bar.
 *
 *     const files = yield* FileTransfers.make({ downloadsDir: path.join(home, "downloads"),
 *                                               connect: (peer) => sessions.ensure(peer) })
 *     sessionManager.register(files.plugin)
 *
 * State lives in the `AgentStore` (so transfers resume after a restart); what is only in memory is
 * the open partial files and running streams of this process's sessions.
 */
import { Clock, Effect, FiberMap, Layer, Option, type Scope, Stream } from "effect"
import { MAX_FILE_CHUNK } from "../../../domain/agent/fileRecord.js"
import { etaSeconds, type RateMeter, startMeter, updateMeter } from "../../../domain/agent/progress.js"
import {
  isTerminalTransfer,
  type TransferRef,
  type TransferState,
  transferOffset,
  transferRef
} from "../../../domain/agent/transfers.js"
import type { Fingerprint, Handle, Id } from "../../../domain/brands.js"
import { ulidFrom } from "../../../domain/ulid.js"
import { AgentStore } from "../../../services/AgentStore.js"
import { Entropy } from "../../../services/Entropy.js"
import type { PeerLink, SessionPlugin } from "../core/plugin.js"
import { type FilesContext, finish, logFailure, now, refKey, sendQuietly, storeError } from "./context.js"
import {
  type AcceptPolicy,
  defaultAcceptPolicy,
  defaultTransferCaps,
  FileTransferError,
  type TransferCaps
} from "./policy.js"
import { makeReceiver } from "./receiver.js"
import { makeSender } from "./sender.js"

export {
  type AcceptPolicy,
  defaultAcceptPolicy,
  defaultTransferCaps,
  FileTransferError,
  parseAcceptPolicy,
  type TransferCaps
} from "./policy.js"

export interface FileTransfersOptions {
  /** `H/downloads`: verified files land here; partial ones in `.partial/` below it. */
  readonly downloadsDir: string
  /** Which offers are accepted without asking (default: up to 4 GiB from people written to or verified). */
  readonly policy?: AcceptPolicy | undefined
  /** Our own key's fingerprint, to tell verified contacts (PROTOCOL.md 10.1); without it none is. */
  readonly ownFingerprint?: Fingerprint | undefined
  /** Caps on incoming transfers per peer and in total (default `defaultTransferCaps`). */
  readonly caps?: Partial<TransferCaps> | undefined
  /** File bytes per data record we offer (1 .. 65 512, default 65 512). */
  readonly chunk?: number | undefined
  /** Asked (in the background) for a session when `sendFile` finds none with the peer. */
  readonly connect?: ((peer: Handle) => Effect.Effect<void, unknown>) | undefined
}

export {
  type FileProgress,
  FileTransfers,
  type FileTransfersService
} from "../../../services/FileTransfers.js"

import { type FileProgress, FileTransfers, type FileTransfersService } from "../../../services/FileTransfers.js"

export const make = (
  options: FileTransfersOptions
): Effect.Effect<FileTransfersService, never, AgentStore | Entropy | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* AgentStore
    const entropy = yield* Entropy
    const scope = yield* Effect.scope
    const streams = yield* FiberMap.make<string>()
    const locks = new Map<string, Effect.Semaphore>()
    const ctx: FilesContext = {
      store,
      links: new Map(),
      downloadsDir: options.downloadsDir,
      policy: options.policy ?? defaultAcceptPolicy,
      ownFingerprint: options.ownFingerprint,
      caps: { ...defaultTransferCaps, ...options.caps },
      chunk: Math.min(Math.max(Math.floor(options.chunk ?? MAX_FILE_CHUNK), 1), MAX_FILE_CHUNK),
      locked: (key) => {
        let lock = locks.get(key)
        if (lock === undefined) {
          lock = Effect.unsafeMakeSemaphore(1)
          locks.set(key, lock)
        }
        return lock.withPermits(1)
      }
    }
    const sender = makeSender(ctx, streams)
    const receiver = makeReceiver(ctx)
    yield* Effect.addFinalizer(() => receiver.closeAll)

    const newId = Effect.map(Clock.currentTimeMillis, (ms): Id => ulidFrom(ms, entropy.bytes(10)))

    const sendFile = Effect.fn("FileTransfers.sendFile")(function* (peer: Handle, path: string, link?: PeerLink) {
      const { transfer, offered } = yield* sender.sendFile(peer, path, yield* newId, link)
      if (!offered && options.connect !== undefined) {
        yield* Effect.forkIn(Effect.ignore(options.connect(peer)), scope)
      }
      return transfer
    })

    /** Stops a transfer for good: `cancelled` by the user, or `failed` when it expired (issue 13, item 4). */
    const stop = (ref: TransferRef, state: "cancelled" | "failed", detail: string, wireReason: string) =>
      Effect.gen(function* () {
        const t = yield* store.transfer(ref).pipe(Effect.mapError(storeError))
        if (t === undefined)
          return yield* new FileTransferError({
            reason: "NotFound",
            message: `No ${ref.direction === "out" ? "outgoing" : "incoming"} file ${ref.id} with ${ref.peer}: check the id.`
          })
        if (isTerminalTransfer(t.state)) return t
        if (t.direction === "out") {
          yield* ctx.locked(refKey(ref))(Effect.zipRight(sender.stop(ref), finish(store, ref, state, detail)))
        } else {
          yield* receiver.stopIncoming(t, state, detail)
        }
        const link = ctx.links.get(ref.peer)
        if (link !== undefined) yield* sendQuietly(link, { _tag: "e2e.FileCancel", id: ref.id, reason: wireReason })
        return (yield* store.transfer(ref).pipe(Effect.mapError(storeError))) ?? t
      })

    const cancel = Effect.fn("FileTransfers.cancel")(function* (ref: TransferRef) {
      return yield* stop(ref, "cancelled", "You cancelled the file.", "user_cancelled")
    })

    const expire = Effect.fn("FileTransfers.expire")(function* (updatedBefore: number, detail: string) {
      const active = yield* store.transfers({ active: true }).pipe(Effect.mapError(storeError))
      return yield* Effect.forEach(
        active.filter((t) => t.direction === "out" && t.updatedAt <= updatedBefore),
        (t) => stop(transferRef(t), "failed", detail, "expired")
      )
    })

    const cancelId = Effect.fn("FileTransfers.cancelId")(function* (id: Id) {
      const active = yield* store.transfers({ active: true }).pipe(Effect.mapError(storeError))
      return yield* Effect.forEach(
        active.filter((t) => t.id === id),
        (t) => cancel(transferRef(t))
      )
    })

    const pendingPeers = Effect.map(store.transfers({ active: true }), (ts) => [
      ...new Set(ts.filter((t) => t.direction === "out").map((t) => t.peer))
    ]).pipe(Effect.mapError(storeError))

    const progress: Stream.Stream<FileProgress> = Stream.suspend(() => {
      const meters = new Map<string, RateMeter>()
      return store.changes.pipe(
        Stream.filterMap((e) =>
          e._tag === "agent.TransferProgress"
            ? Option.some({ ref: e.ref, bytes: e.offset, total: e.size, state: undefined })
            : e._tag === "agent.TransferUpdated"
              ? Option.some({
                  ref: transferRef(e.transfer),
                  bytes: transferOffset(e.transfer),
                  total: e.transfer.size,
                  state: e.transfer.state as TransferState | undefined
                })
              : Option.none()
        ),
        Stream.mapEffect((s) =>
          Effect.map(now, (at): FileProgress => {
            const key = refKey(s.ref)
            const before = meters.get(key)
            const meter = before === undefined ? startMeter(s.bytes, at) : updateMeter(before, s.bytes, at)
            if (s.state !== undefined && isTerminalTransfer(s.state)) meters.delete(key)
            else meters.set(key, meter)
            return { ...s, rate: meter.rate, eta: etaSeconds(s.bytes, s.total, meter.rate) }
          })
        )
      )
    })

    const plugin: SessionPlugin = {
      name: "files",
      onSessionUp: (link) =>
        Effect.suspend(() => {
          ctx.links.set(link.peer, link)
          return Effect.asVoid(logFailure(`resuming transfers with ${link.peer}`)(sender.sessionUp(link)))
        }),
      onMessage: (link, m) => {
        switch (m._tag) {
          case "e2e.FileOffer":
            return Effect.as(logFailure(`offer ${m.id}`)(receiver.onOffer(link, m)), true)
          case "e2e.FileAccept":
            return Effect.as(logFailure(`accept ${m.id}`)(sender.onAccept(link, m)), true)
          case "e2e.FileDone":
            return Effect.as(logFailure(`done ${m.id}`)(receiver.onDone(link, m)), true)
          case "e2e.FileAck":
            return Effect.as(logFailure(`ack ${m.id}`)(sender.onAck(link, m.id)), true)
          case "e2e.FileCancel":
            return Effect.as(
              logFailure(`cancel ${m.id}`)(
                Effect.zipWith(
                  sender.onCancel(link.peer, m.id, m.reason),
                  receiver.onCancel(link.peer, m.id, m.reason),
                  (a, b) => a || b
                )
              ),
              true
            )
          default:
            return Effect.succeed(false)
        }
      },
      // Once per data record (16 per MiB): most take the plain call; the rest, the effect, which builds
      // no label and pushes no handler frames unless it fails.
      tryData: receiver.tryData,
      onData: (link, data) =>
        Effect.catchAllCause(receiver.onData(link, data), (cause) =>
          Effect.asVoid(logFailure(`data from ${link.peer}`)(Effect.failCause(cause)))
        ),
      // The link is not forgotten here: a session down may arrive after its replacement came up
      // (`onSessionUp` overwrites the link); a send on a dead link fails and `sendFile` then asks
      // `connect`. Streams on a dead link end by themselves (their next `sendData` fails).
      onSessionDown: (peer, link) =>
        Effect.asVoid(
          logFailure(`pausing transfers with ${peer}`)(
            Effect.zipRight(
              link === undefined ? Effect.void : sender.sessionDown(peer, link.channel),
              receiver.sessionDown(peer, link?.channel)
            )
          )
        )
    }

    return {
      plugin,
      sendFile: (peer, path, link) => sendFile(peer, path, link),
      accept: Effect.fn("FileTransfers.accept")(function* (ref: TransferRef) {
        yield* receiver.accept(ref)
      }),
      cancel,
      cancelId,
      expire,
      pendingPeers,
      progress
    } satisfies FileTransfersService
  })

export const layer = (options: FileTransfersOptions): Layer.Layer<FileTransfers, never, AgentStore | Entropy> =>
  Layer.scoped(FileTransfers, make(options))
