/**
 * `sixchat peer listen` / `sixchat peer connect`: the `openssl s_server` / `s_client` of SixChat.
 * After the handshake each prints `peer=<handle> fingerprint=<hex> suite=<suite>` on stderr, sends each
 * stdin line as a <Message>, prints each received body on stdout, and closes cleanly on EOF.
 */

import { readFileSync } from "node:fs"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect, Fiber, Layer, Option, Schema, Stream } from "effect"
import { type Address, formatAddress, Handle, makeAddress } from "../domain/brands.js"
import { e2eCodec } from "../domain/e2e/codec.js"
import { type AppMessage, MessageBody } from "../domain/e2e/messages.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import { make as makeChannels } from "../layers/channel/SecureChannelLive.js"
import * as EntropyLive from "../layers/EntropyLive.js"
import * as TcpTransport from "../layers/transport/TcpTransport.js"
import type { ChannelError, SecureChannel } from "../services/SecureChannel.js"
import { Transport } from "../services/Transport.js"
import {
  cryptoLayer,
  cryptoOption,
  loadIdentity,
  parseAddressArg,
  readCertificates,
  stderrLine,
  stdinLines
} from "./common.js"
import { CliFailure, ExitCode, usage } from "./failure.js"
import { newMessageId, rfc3339 } from "./ids.js"

const key = Options.file("key", { exists: "yes" }).pipe(Options.withDescription("our private key, PKCS#8 PEM"))
const cert = Options.file("cert", { exists: "yes" }).pipe(
  Options.withDescription("our certificate chain, PEM, leaf first")
)
const trust = Options.file("trust", { exists: "yes" }).pipe(
  Options.repeated,
  Options.withDescription("trust anchor certificates, PEM (repeatable)")
)

const staple = Options.file("staple", { exists: "yes" }).pipe(
  Options.optional,
  Options.withDescription(
    "a stapled certificate status (raw bytes, PROTOCOL.md §13.6.1) to send in our <Certificate>, like `openssl s_client -status` in reverse: for tests and diagnostics"
  )
)

/** Our identity, with the `--staple` file's bytes when given. */
const identityWith = (keyPath: string, certPath: string, staplePath: Option.Option<string>) =>
  Effect.map(loadIdentity(keyPath, certPath), (identity) => {
    if (Option.isNone(staplePath)) return identity
    const bytes = new Uint8Array(readFileSync(staplePath.value))
    return { ...identity, staple: () => bytes }
  })

type Chan = SecureChannel<AppMessage, AppMessage>

const isMessageBody = Schema.is(MessageBody)

const channelFailure = (e: ChannelError) =>
  new CliFailure({ code: ExitCode.Rejected, message: `${e.reason}${e.alert ? ` (${e.alert})` : ""}: ${e.message}` })

/** Prints the session line, then pumps stdin to the peer and the peer to stdout until either side ends. */
const session = (channel: Chan) =>
  Effect.gen(function* () {
    const c = channel.peer.certificate
    yield* stderrLine(
      `peer=${channel.peer.handle ?? c?.dnsNames[0] ?? "anonymous"} fingerprint=${c?.fingerprint ?? "-"} suite=${channel.session.suite}`
    )
    const receiving = yield* Effect.fork(
      Effect.iterate(true, {
        while: (open) => open,
        body: () =>
          Effect.map(channel.receive, (inbound) => {
            if (inbound._tag === "Closed") {
              if (inbound.reason !== undefined) process.stderr.write(`closed by peer: ${inbound.reason}\n`)
              return false
            }
            if (inbound._tag === "Message" && inbound.message._tag === "e2e.Message")
              process.stdout.write(`${inbound.message.body}\n`)
            else if (inbound._tag === "Data") process.stderr.write(`(binary record, ${inbound.data.length} bytes)\n`)
            return true
          })
      })
    )
    const sending = stdinLines.pipe(
      Stream.runForEach((body) =>
        isMessageBody(body)
          ? channel.send({ _tag: "e2e.Message", id: newMessageId(), sent: rfc3339(new Date()), body } as AppMessage)
          : stderrLine(
              "not sent: a message is at most 64 000 bytes of text (characters such as & count 5), without control characters; shorten the line"
            )
      ),
      Effect.zipRight(channel.close()),
      Effect.zipRight(Fiber.join(receiving).pipe(Effect.timeout("5 seconds"), Effect.ignore))
    )
    yield* Effect.raceFirst(Fiber.join(receiving), sending).pipe(Effect.mapError(channelFailure))
  })

const environment = (crypto: "node" | "noble", anchorPaths: ReadonlyArray<string>) =>
  Effect.map(readCertificates(anchorPaths), (anchors) =>
    Layer.mergeAll(cryptoLayer(crypto), EntropyLive.layer, CertVerifierLive.layer({ anchors }), TcpTransport.layer)
  )

const listen = Command.make(
  "listen",
  {
    key,
    cert,
    trust,
    listen: Options.text("listen").pipe(
      Options.repeated,
      Options.withDescription("HOST:PORT to listen on (repeatable; default [::]:4605 and 0.0.0.0:4605)")
    ),
    crypto: cryptoOption
  },
  (o) =>
    Effect.gen(function* () {
      if (o.trust.length === 0) return yield* usage("give at least one --trust CA.pem")
      const addresses: Array<Address> =
        o.listen.length === 0
          ? [makeAddress("::", 4605), makeAddress("0.0.0.0", 4605)]
          : yield* Effect.forEach(o.listen, parseAddressArg)
      const env = yield* environment(o.crypto, o.trust)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const identity = yield* loadIdentity(o.key, o.cert)
          const channels = yield* makeChannels({ codec: e2eCodec, identity })
          const transport = yield* Transport
          const listeners = yield* Effect.forEach(addresses, (a) =>
            transport
              .listen(a)
              .pipe(Effect.mapError((e) => new CliFailure({ code: ExitCode.State, message: e.message })))
          )
          for (const l of listeners) yield* stderrLine(`listening on ${formatAddress(l.address)}`)
          const conn = yield* Effect.raceAll(listeners.map((l) => l.accept)).pipe(
            Effect.mapError((e) => new CliFailure({ code: ExitCode.State, message: e.message }))
          )
          const channel = yield* channels.accept(conn).pipe(Effect.mapError(channelFailure))
          yield* session(channel)
        })
      ).pipe(Effect.provide(env))
    })
).pipe(Command.withDescription("accept one SixChat connection and chat over stdin/stdout"))

const connect = Command.make(
  "connect",
  {
    key,
    cert,
    trust,
    expect: Options.text("expect").pipe(Options.withDescription("the handle the peer must prove (alice@example.org)")),
    staple,
    crypto: cryptoOption,
    address: Args.text({ name: "HOST:PORT" })
  },
  (o) =>
    Effect.gen(function* () {
      if (o.trust.length === 0) return yield* usage("give at least one --trust CA.pem")
      const handle = yield* Schema.decodeUnknown(Handle)(o.expect).pipe(
        Effect.mapError(() => usage(`--expect "${o.expect}" is not a handle like alice@example.org`))
      )
      const address = yield* parseAddressArg(o.address)
      const env = yield* environment(o.crypto, o.trust)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const identity = yield* identityWith(o.key, o.cert, o.staple)
          const channels = yield* makeChannels({ codec: e2eCodec, identity })
          const channel = yield* channels
            .dial(address, { _tag: "Handle", handle })
            .pipe(Effect.mapError(channelFailure))
          yield* session(channel)
        })
      ).pipe(Effect.provide(env))
    })
).pipe(Command.withDescription("connect to a SixChat peer, prove who it is, and chat over stdin/stdout"))

export const peerCommand = Command.make("peer").pipe(
  Command.withDescription("talk to one peer directly (a diagnostic client and server)"),
  Command.withSubcommands([listen, connect])
)
