/**
 * `sixchat demo` (what `npm start` runs): stands up a throw-away domain and two peers on loopback, and
 * shows them authenticating each other and exchanging encrypted messages directly.
 * (The User Agent issue grows this into the full alice-and-bob demo with the IRP.)
 */
import { mkdtempSync, rmSync } from "node:fs"
import { networkInterfaces, tmpdir } from "node:os"
import { join } from "node:path"
import * as Command from "@effect/cli/Command"
import { Effect, Either, Fiber, Layer } from "effect"
import { formatAddress, type Handle, makeAddress } from "../domain/brands.js"
import type { AppMessage } from "../domain/e2e/messages.js"
import { makeLocalIdentity } from "../domain/handshake/identity.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import * as CertificateAuthority from "../layers/ca/CertificateAuthority.js"
import { createCsr } from "../layers/ca/csr.js"
import { initDomain, loadDomain } from "../layers/ca/DomainDirectory.js"
import { generateKeyPair, KEY_SEED_BYTES } from "../layers/ca/keys.js"
import { e2eCodec, make as makeChannels } from "../layers/channel/SecureChannelLive.js"
import * as CryptoLive from "../layers/crypto/CryptoLive.js"
import * as EntropyLive from "../layers/EntropyLive.js"
import * as TcpTransport from "../layers/transport/TcpTransport.js"
import { CertVerifier } from "../services/CertVerifier.js"
import { cryptoSuite } from "../services/Crypto.js"
import { Entropy } from "../services/Entropy.js"
import type { SecureChannel } from "../services/SecureChannel.js"
import { Transport } from "../services/Transport.js"
import { cryptoOption, stdoutLine } from "./common.js"
import { CliFailure, ExitCode } from "./failure.js"
import { newMessageId, rfc3339 } from "./ids.js"

const say = (line: string) => stdoutLine(line)

const hasIpv6Loopback = (): boolean =>
  Object.values(networkInterfaces()).some((list) => list?.some((i) => i.family === "IPv6" && i.address === "::1"))

const text = (body: string): AppMessage =>
  ({ _tag: "e2e.Message", id: newMessageId(), sent: rfc3339(new Date()), body }) as AppMessage

const failure = (step: string) => (e: { message: string }) =>
  new CliFailure({ code: ExitCode.Rejected, message: `demo failed while ${step}: ${e.message}` })

const demo = (dir: string) =>
  Effect.gen(function* () {
    const entropy = yield* Entropy
    const crypto = yield* cryptoSuite
    yield* say(`1. Creating the domain example.org (root CA, issuing CA, IRP server certificate) in ${dir}`)
    yield* initDomain({ dir, domain: "example.org", now: new Date(), entropy: entropy.bytes }).pipe(
      Effect.mapError(failure("creating the domain"))
    )
    const domain = yield* loadDomain(dir).pipe(Effect.mapError(failure("loading the domain")))
    const ca = yield* CertificateAuthority.make(domain)
    const enrol = (handle: string) =>
      Effect.gen(function* () {
        const key = yield* generateKeyPair(entropy.bytes(KEY_SEED_BYTES))
        const csr = yield* createCsr({ handle: handle as Handle, pkcs8: key.pkcs8 })
        const issued = yield* ca.issueClient(csr, handle as Handle)
        const identity = yield* Either.match(makeLocalIdentity(crypto, key.pkcs8, issued.chain), {
          onLeft: (m) => Effect.fail({ message: m }),
          onRight: Effect.succeed
        })
        yield* say(
          `   issued ${handle}: serial ${issued.serial}, key fingerprint ${identity.fingerprint.slice(0, 16)}…`
        )
        return identity
      }).pipe(Effect.mapError(failure(`enrolling ${handle}`)))
    yield* say("2. Issuing client certificates from CSRs (ECDSA P-256, EKU clientAuth)")
    const alice = yield* enrol("alice@example.org")
    const bob = yield* enrol("bob@example.org")
    const verifier = Layer.succeed(
      CertVerifier,
      yield* CertVerifierLive.make({ anchors: [domain.rootCertificate] }).pipe(
        Effect.mapError(failure("loading the trust anchor"))
      )
    )
    const aliceChannels = yield* makeChannels({ codec: e2eCodec, identity: alice }).pipe(Effect.provide(verifier))
    const bobChannels = yield* makeChannels({ codec: e2eCodec, identity: bob }).pipe(Effect.provide(verifier))
    const transport = yield* Transport
    const host = hasIpv6Loopback() ? "::1" : "127.0.0.1"
    const listener = yield* transport.listen(makeAddress(host, 0)).pipe(Effect.mapError(failure("listening")))
    yield* say(`3. bob listens on ${formatAddress(listener.address)}; alice dials him directly (no server in the path)`)

    const bobSide = Effect.scoped(
      Effect.gen(function* () {
        const conn = yield* listener.accept
        const ch: SecureChannel<AppMessage, AppMessage> = yield* bobChannels.accept(conn)
        for (;;) {
          const got = yield* ch.receive
          if (got._tag === "Closed") return ch.session.verificationCode
          if (got._tag === "Message" && got.message._tag === "e2e.Message") {
            yield* say(`   bob   <- ${ch.peer.handle}: "${got.message.body}"`)
            yield* ch.send({ _tag: "e2e.Ack", id: got.message.id })
          }
        }
      })
    )
    const bobFiber = yield* Effect.fork(bobSide)
    const codes = yield* Effect.scoped(
      Effect.gen(function* () {
        const ch = yield* aliceChannels.dial(listener.address, { _tag: "Handle", handle: "bob@example.org" as Handle })
        const peer = ch.peer.certificate
        yield* say(
          `4. Handshake complete: alice sees ${ch.peer.handle} (fingerprint ${peer?.fingerprint.slice(0, 16)}…)`
        )
        yield* say(`   suite ${ch.session.suite}, X25519 key exchange, both certificates sent encrypted`)
        yield* say(`   alice's verification code: ${ch.session.verificationCode}`)
        for (const body of ["Hi Bob, this goes straight to you.", "Encrypted with AES-256-GCM.", "Bye!"]) {
          const m = text(body)
          yield* ch.send(m)
          const ack = yield* ch.receive
          const ok =
            ack._tag === "Message" && ack.message._tag === "e2e.Ack" && ack.message.id === (m as { id: string }).id
          yield* say(`   alice -> bob: "${body}" ${ok ? "(delivered)" : "(no receipt!)"}`)
        }
        return ch.session.verificationCode
      })
    ).pipe(Effect.mapError(failure("talking to bob")))
    const bobCode = yield* Fiber.join(bobFiber).pipe(Effect.mapError(failure("serving alice")))
    yield* say(`   bob's verification code:   ${bobCode} ${bobCode === codes ? "(matches alice's)" : "(MISMATCH)"}`)
    yield* say("5. alice closed the session with <Close/>; everything shut down cleanly.")
  })

export const demoCommand = Command.make("demo", { crypto: cryptoOption }, (o) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "sixchat-demo-"))),
    (dir) => Effect.scoped(demo(join(dir, "example.org"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.provide(Layer.mergeAll(CryptoLive.layerFor(o.crypto), EntropyLive.layer, TcpTransport.layer)))
).pipe(Command.withDescription("run a short demo: two peers on loopback authenticate each other and chat"))
