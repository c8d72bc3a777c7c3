/**
 * A server that accepts SixChat peers (PROTOCOL.md §§2, 6): it listens on port 4605, runs the handshake
 * as the responder with its own key and certificate, and prints every message each peer sends.
 *
 *     node acceptPeers.js HOME      # HOME holds key.pem, cert.pem (leaf first) and ca.pem (the domain's root)
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Console, Effect, Either, Layer } from "effect"
import {
  CertVerifierLive,
  type Connection,
  CryptoLive,
  cryptoSuite,
  EntropyLive,
  makeAddress,
  makeLocalIdentity,
  pemDecode,
  SecureChannelLive,
  SecureChannels,
  TcpTransport,
  Transport
} from "sixchat"

const home = process.argv[2] ?? "."
const pem = (file: string, label: string) => pemDecode(readFileSync(join(home, file), "utf8"), label)

/** One peer: its messages until it closes (or the connection fails). */
const serve = (connection: Connection) =>
  Effect.gen(function* () {
    const channels = yield* SecureChannels
    const channel = yield* channels.accept(connection)
    yield* Console.log(`session with ${channel.peer.handle}, verification code ${channel.session.verificationCode}`)
    for (;;) {
      const inbound = yield* channel.receive
      if (inbound._tag === "Closed") return
      if (inbound._tag === "Message" && inbound.message._tag === "e2e.Message")
        yield* Console.log(`${channel.peer.handle}: ${inbound.message.body}`)
    }
  }).pipe(
    Effect.scoped,
    Effect.catchAll((e) => Console.error(`a peer failed: ${e.message}`))
  )

const program = Effect.gen(function* () {
  const listener = yield* (yield* Transport).listen(makeAddress("::", 4605))
  yield* Console.log(`listening on port ${listener.address.port}`)
  for (;;) {
    const connection = yield* listener.accept
    yield* Effect.forkScoped(serve(connection))
  }
})

// The E2E channels need our identity, which needs the crypto ports: build it, then the layer.
const channels = Layer.unwrapEffect(
  Effect.map(cryptoSuite, (crypto) =>
    Either.match(makeLocalIdentity(crypto, pem("key.pem", "PRIVATE KEY")[0]!, pem("cert.pem", "CERTIFICATE")), {
      onLeft: (problem) => Layer.die(new Error(`key.pem and cert.pem do not fit together: ${problem}`)),
      onRight: (identity) => SecureChannelLive.layer(identity)
    })
  )
)

const MainLive = channels.pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      TcpTransport.layer,
      CertVerifierLive.layer({ anchors: pem("ca.pem", "CERTIFICATE") }),
      CryptoLive.layerNode,
      EntropyLive.layer
    )
  )
)

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(MainLive))).catch((e) => {
  console.error(String(e))
  process.exitCode = 1
})
