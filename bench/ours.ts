/**
 * Our secure channel in the benchmark: a channel factory per peer (as `test/support/channels.ts`
 * builds them), the echo server, and the client-side measurements, written the way an
 * application would use the channel (one Effect program per phase).
 */
import { Deferred, Effect, Either, Exit, Layer, Scope } from "effect"
import { type Address, makeAddress } from "../src/domain/brands.js"
import type { ProviderName } from "../src/domain/crypto/primitives.js"
import type { AppMessage } from "../src/domain/e2e/messages.js"
import { makeLocalIdentity } from "../src/domain/handshake/identity.js"
import * as CertVerifierLive from "../src/layers/CertVerifierLive.js"
import { e2eCodec, make } from "../src/layers/channel/SecureChannelLive.js"
import * as CryptoLive from "../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../src/layers/EntropyLive.js"
import * as TcpTransport from "../src/layers/transport/TcpTransport.js"
import { cryptoSuite } from "../src/services/Crypto.js"
import type { ChannelError, SecureChannel, SecureChannelsService } from "../src/services/SecureChannel.js"
import { type Listener, Transport, type TransportService } from "../src/services/Transport.js"
import { asHandle, BULK_CHUNK, pingMessage } from "./common.js"
import type { BenchIdentity } from "./pki.js"

export type Channels = SecureChannelsService<AppMessage, AppMessage>
type Chan = SecureChannel<AppMessage, AppMessage>

export interface OursSetup {
  readonly provider: ProviderName
  readonly identity: BenchIdentity
  readonly anchors: ReadonlyArray<Uint8Array>
  /**
   * Verified-signature cache entries of the CertVerifier. The headline figures use 0: every
   * handshake verifies the whole chain (the product default is 1024).
   */
  readonly signatureCacheSize: number
}

/** A channel factory for one peer, over real TCP. */
export const channelsFor = (setup: OursSetup): Effect.Effect<{ channels: Channels; transport: TransportService }> =>
  Effect.gen(function* () {
    const crypto = yield* cryptoSuite
    const identity = Either.getOrThrow(makeLocalIdentity(crypto, setup.identity.pkcs8, setup.identity.chain))
    const channels = yield* make({ codec: e2eCodec, identity })
    return { channels, transport: yield* Transport }
  }).pipe(
    Effect.provide(
      Layer.mergeAll(
        CryptoLive.layerFor(setup.provider),
        EntropyLive.layer,
        CertVerifierLive.layer({ anchors: setup.anchors, signatureCacheSize: setup.signatureCacheSize }),
        TcpTransport.layer
      )
    ),
    Effect.orDie
  )

const READY_RECORD = new Uint8Array([0x52])

/** Serves one accepted connection: READY, then echo every `<Message>`, swallow data, until Close. */
const serveOne = (channel: Chan): Effect.Effect<void, ChannelError> =>
  Effect.gen(function* () {
    yield* channel.sendData(READY_RECORD)
    for (;;) {
      const inbound = yield* channel.receive
      if (inbound._tag === "Closed") return
      if (inbound._tag === "Message") yield* channel.send(inbound.message)
    }
  })

export interface ServerCounters {
  handshakes: number
  failures: number
  lastError: string
}

/**
 * Accepts forever; each connection gets its own scope (released when it ends) and fiber.
 * `onParked` (memory bench) is told when a connection has become idle, i.e. its reader waits.
 */
export const acceptLoop = (channels: Channels, listener: Listener, counters: ServerCounters): Effect.Effect<never> =>
  Effect.forever(
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const conn = yield* Scope.extend(listener.accept, scope)
      yield* Effect.forkDaemon(
        Scope.extend(channels.accept(conn), scope).pipe(
          Effect.tap(() => Effect.sync(() => counters.handshakes++)),
          Effect.flatMap(serveOne),
          Effect.catchAll((e) =>
            Effect.sync(() => {
              counters.failures++
              counters.lastError = `${e.reason}: ${e.message}`
            })
          ),
          Effect.ensuring(Scope.close(scope, Exit.void))
        )
      )
    }).pipe(Effect.catchAll(() => Effect.void))
  )

/** Listens on 127.0.0.1, port chosen by the OS. */
export const listenLoopback = (transport: TransportService) => transport.listen(makeAddress("127.0.0.1", 0))

// --- client side ------------------------------------------------------------------------------

const expectBob = (handle: string) => ({ _tag: "Handle" as const, handle: asHandle(handle) })

/** Dials, completes the handshake, and waits for the server's READY record (so both sides are done). */
const openChannel = (channels: Channels, address: Address, serverHandle: string) =>
  Effect.gen(function* () {
    const channel = yield* channels.dial(address, expectBob(serverHandle))
    const ready = yield* channel.receive
    if (ready._tag !== "Data") return yield* Effect.dieMessage(`expected READY, got ${ready._tag}`)
    return channel
  })

/** One full handshake: dial, handshake, READY, `<Close/>`. */
export const handshakeOnce = (channels: Channels, address: Address, serverHandle: string) =>
  Effect.scoped(openChannel(channels, address, serverHandle))

/** `concurrency` loops of sequential handshakes until `durationMs` passed; the count and the time. */
export const handshakes = (
  channels: Channels,
  address: Address,
  serverHandle: string,
  concurrency: number,
  durationMs: number
): Effect.Effect<{ count: number; ms: number }, ChannelError> =>
  Effect.gen(function* () {
    const start = performance.now()
    const deadline = start + durationMs
    let count = 0
    const worker = Effect.whileLoop({
      while: () => performance.now() < deadline,
      body: () => handshakeOnce(channels, address, serverHandle),
      step: () => {
        count++
      }
    })
    yield* Effect.all(
      Array.from({ length: concurrency }, () => worker),
      { concurrency: "unbounded", discard: true }
    )
    return { count, ms: performance.now() - start }
  })

/** Ping-pong of a `<Message>` with a 100-byte body: `iterations` round-trip times in microseconds. */
export const pingPong = (
  channels: Channels,
  address: Address,
  serverHandle: string,
  warmup: number,
  iterations: number
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const channel = yield* openChannel(channels, address, serverHandle)
      const samples: Array<number> = []
      for (let i = 0; i < warmup + iterations; i++) {
        const t0 = performance.now()
        yield* channel.send(pingMessage)
        const back = yield* channel.receive
        const t1 = performance.now()
        if (back._tag !== "Message") return yield* Effect.dieMessage(`expected the echo, got ${back._tag}`)
        if (i >= warmup) samples.push((t1 - t0) * 1000)
      }
      return samples
    })
  )

/** Sends `totalBytes` in 64 KiB data records, then a `<Message>`; done when its echo is back. */
export const bulk = (channels: Channels, address: Address, serverHandle: string, totalBytes: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const channel = yield* openChannel(channels, address, serverHandle)
      const chunk = new Uint8Array(BULK_CHUNK).fill(7)
      const start = performance.now()
      for (let sent = 0; sent < totalBytes; sent += BULK_CHUNK) yield* channel.sendData(chunk)
      yield* channel.send(pingMessage)
      const back = yield* channel.receive
      if (back._tag !== "Message") return yield* Effect.dieMessage(`expected the echo, got ${back._tag}`)
      return { bytes: totalBytes, ms: performance.now() - start }
    })
  )

/** Dials expecting `serverHandle`; succeeds with the failure reason when the handshake is refused. */
export const refusedReason = (channels: Channels, address: Address, serverHandle: string) =>
  Effect.scoped(openChannel(channels, address, serverHandle)).pipe(
    Effect.match({ onFailure: (e) => `${e.reason}${e.alert ? ` (${e.alert})` : ""}`, onSuccess: () => undefined })
  )

/**
 * Opens one connection and leaves it idle with its reader parked in `receive`, as an application
 * that listens for messages would; resolves once it is established. The fiber runs until the end.
 */
export const holdIdle = (channels: Channels, address: Address, serverHandle: string) =>
  Effect.gen(function* () {
    const established = yield* Deferred.make<void, ChannelError>()
    yield* Effect.forkDaemon(
      Effect.scoped(
        Effect.gen(function* () {
          const channel = yield* openChannel(channels, address, serverHandle)
          yield* Deferred.succeed(established, undefined)
          yield* channel.receive
        })
      ).pipe(Effect.catchAll((e) => Deferred.fail(established, e)))
    )
    yield* Deferred.await(established)
  })
