/**
 * A hand-written peer for real-process tests: an enrolled user without an agent (say `mallory`)
 * who dials an agent process over the library's own secure channel on real TCP and says exactly
 * what a test scripts, well-formed or hostile.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { type Duration, Effect, Either, Layer, type Scope } from "effect"
import type { Address, Handle } from "../../../src/domain/brands.js"
import type { AppMessage } from "../../../src/domain/e2e/messages.js"
import { makeLocalIdentity } from "../../../src/domain/handshake/identity.js"
import { pemDecode } from "../../../src/domain/pem.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import { e2eCodec, make as makeChannels } from "../../../src/layers/channel/SecureChannelLive.js"
import * as CryptoLive from "../../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import { cryptoSuite } from "../../../src/services/Crypto.js"
import type { ChannelError, SecureChannel } from "../../../src/services/SecureChannel.js"

export type PeerChannel = SecureChannel<AppMessage, AppMessage>

/**
 * Runs `f` with a channel from the identity in `home` to the agent at `address` (which must be
 * `peer`); the channel closes when `f` ends. Bounded by `timeout`.
 */
export const asPeer = <A>(
  home: string,
  address: Address,
  peer: Handle,
  f: (chan: PeerChannel) => Effect.Effect<A, ChannelError | Error, Scope.Scope>,
  timeout: Duration.DurationInput = "40 seconds"
): Promise<A> => {
  const anchors = pemDecode(readFileSync(join(home, "ca.pem"), "utf8"), "CERTIFICATE")
  const pkcs8 = pemDecode(readFileSync(join(home, "key.pem"), "utf8"), "PRIVATE KEY")[0]!
  const chain = pemDecode(readFileSync(join(home, "cert.pem"), "utf8"), "CERTIFICATE")
  return Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const identity = yield* Either.match(makeLocalIdentity(yield* cryptoSuite, pkcs8, chain), {
          onLeft: (m) => Effect.die(new Error(m)),
          onRight: Effect.succeed
        })
        const channels = yield* makeChannels({ codec: e2eCodec, identity, allowAnonymousPeer: false })
        const chan = yield* channels.dial(address, { _tag: "Handle", handle: peer })
        return yield* f(chan)
      })
    ).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new Error("the scripted peer ran out of time")
      }),
      Effect.provide(
        Layer.mergeAll(
          CryptoLive.layerFor("node"),
          EntropyLive.layer,
          Layer.orDie(CertVerifierLive.layer({ anchors })),
          TcpTransport.layer
        )
      )
    )
  )
}

/**
 * Sends `<Ping nonce>` and collects every message until the matching `<Pong>`: the agent handles
 * one session's messages in order, so everything it answered to earlier messages is in the list.
 * At most `max` items are read.
 */
export const untilPong = (chan: PeerChannel, nonce: string, max = 20_000) =>
  Effect.gen(function* () {
    yield* chan.send({ _tag: "e2e.Ping", nonce })
    const seen: Array<AppMessage> = []
    for (let i = 0; i < max; i++) {
      const item = yield* chan.receive
      if (item._tag === "Closed") return yield* Effect.fail(new Error(`the agent closed the session: ${item.reason}`))
      if (item._tag !== "Message") continue
      if (item.message._tag === "e2e.Pong" && item.message.nonce === nonce) return seen
      seen.push(item.message)
    }
    return yield* Effect.fail(new Error(`no <Pong nonce="${nonce}"> within ${max} items`))
  })

/** Descriptors and resident memory of a process (Linux `/proc`). */
export const usage = (pid: number): { readonly fds: number; readonly rssKiB: number } => {
  const fds = readdirCount(`/proc/${pid}/fd`)
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
  return { fds, rssKiB: Number(rss) }
}

const readdirCount = (dir: string) => readdirSync(dir).length
