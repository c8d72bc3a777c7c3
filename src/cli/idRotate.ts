/**
 * `sixchat id rotate --home H [--irp HOST:PORT]` (issue 10 §2; PROTOCOL.md 17.4.9): a new key for the
 * same handle, certified with `Renew` (a CSR for the new key, sent on a connection authenticated with
 * the current certificate), stored in the home, and the old certificate revoked (`superseded`).
 *
 * Order, so that the home always holds a working identity:
 * 1. the home is locked (no agent may run on it: it would go on presenting the old key) — a running
 *    agent makes the command stop, saying so, before anything changes;
 * 2. the new key and its certificate are obtained and checked (17.4.6) — a failure changes nothing;
 * 3. the old key and chain are copied to `key.pem.old` / `cert.pem.old`, then the new ones replace
 *    `key.pem` and `cert.pem`, each atomically (temporary file, fsync, rename); a new key is protected
 *    like the old one (same `SIXCHAT_PASSPHRASE`, or typed);
 * 4. the old certificate is revoked (`superseded`) on the same connection; peers with a live session
 *    on it close it (17.9.3), and a new handshake with it is refused;
 * 5. on success the `.old` copies are removed. If the revocation fails, the new identity is in use and
 *    the command says how to revoke the old certificate.
 */
import { copyFileSync, rmSync } from "node:fs"
import * as Command from "@effect/cli/Command"
import { Effect, Either } from "effect"
import { certificateIdentity } from "../domain/cert/identity.js"
import { makeLocalIdentity } from "../domain/handshake/identity.js"
import type { SerialHex } from "../domain/irp/certificates.js"
import { pemEncode } from "../domain/pem.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import { createCsr } from "../layers/ca/csr.js"
import { generateKeyPair, KEY_SEED_BYTES } from "../layers/ca/keys.js"
import { cryptoSuite } from "../services/Crypto.js"
import { Entropy } from "../services/Entropy.js"
import { currentPassphrase, readHomeKey } from "./agentKey.js"
import { lockHome } from "./agentLock.js"
import { cryptoOption, stdoutLine } from "./common.js"
import { CliFailure, ExitCode, rejected } from "./failure.js"
import { homeOption, homePath, replaceFileAtomically } from "./home.js"
import { clientFailure, clientLayer, connectFromHome, irpOverrideOption } from "./irpSession.js"
import { scryptParamsForWriting, sealKey, writeKeyFile } from "./keyProtection.js"

const stateFailure = (e: { readonly message: string }) => new CliFailure({ code: ExitCode.State, message: e.message })

const fileStep = (what: string, f: () => void) =>
  Effect.try({ try: f, catch: (e) => stateFailure({ message: `${what}: ${(e as Error).message}` }) })

const rotate = Command.make("rotate", { home: homeOption, irp: irpOverrideOption, crypto: cryptoOption }, (o) =>
  Effect.gen(function* () {
    // Held until the command ends: no agent can start on the home meanwhile.
    yield* Effect.mapError(
      lockHome(o.home),
      (e) =>
        new CliFailure({
          code: e.code,
          message: `the key cannot be replaced while an agent uses ${o.home} (${e.message}). Stop the agent first (it would go on presenting the old key), run \`sixchat id rotate --home ${o.home}\` again, then start the agent.`
        })
    )
    const keyFile = homePath(o.home, "key")
    const certFile = homePath(o.home, "cert")
    const old = yield* readHomeKey(o.home)
    const entropy = yield* Entropy
    const key = yield* Effect.mapError(generateKeyPair(entropy.bytes(KEY_SEED_BYTES)), stateFailure)

    yield* Effect.scoped(
      Effect.gen(function* () {
        const session = yield* connectFromHome(o.home, o.irp)
        const handle = session.config.handle
        const oldLeaf = certificateIdentity(session.chain[0]!)
        if (oldLeaf === undefined) return yield* stateFailure({ message: `${certFile} is not readable` })
        const csr = yield* Effect.mapError(createCsr({ handle, pkcs8: key.pkcs8 }), stateFailure)
        const issued = yield* Effect.mapError(session.client.renew(csr), clientFailure)

        // Store only a chain we can use (17.4.6): our new key, our handle, the domain's anchor.
        const crypto = yield* cryptoSuite
        if (Either.isLeft(makeLocalIdentity(crypto, key.pkcs8, issued.chain)))
          return yield* rejected("the IRP server certified another key: report this to the operator")
        const verifier = yield* Effect.mapError(CertVerifierLive.make({ anchors: session.anchors }), stateFailure)
        yield* verifier
          .verify({ chain: issued.chain, purpose: "client-auth", expectedHandle: handle })
          .pipe(Effect.mapError((e) => rejected(`the new certificate does not verify (${e.message}): report this`)))
        const newLeaf = certificateIdentity(issued.chain[0]!)!

        const keyText =
          old.protection === "plain"
            ? pemEncode("PRIVATE KEY", key.pkcs8)
            : yield* Effect.mapError(
                sealKey({
                  pkcs8: key.pkcs8,
                  passphrase: yield* currentPassphrase(keyFile),
                  scrypt: yield* scryptParamsForWriting,
                  random: entropy.bytes
                }),
                stateFailure
              )
        yield* fileStep("cannot keep a copy of the old key", () => {
          copyFileSync(keyFile, `${keyFile}.old`)
          copyFileSync(certFile, `${certFile}.old`)
        })
        yield* writeKeyFile(keyFile, keyText, { replace: true })
        yield* fileStep("cannot store the new certificate", () => {
          replaceFileAtomically(certFile, issued.chain.map((der) => pemEncode("CERTIFICATE", der)).join(""), 0o644)
          replaceFileAtomically(homePath(o.home, "csr"), pemEncode("CERTIFICATE REQUEST", csr), 0o644)
        })
        yield* stdoutLine(`new key for ${handle}: fingerprint ${newLeaf.fingerprint} (was ${oldLeaf.fingerprint})`)
        yield* stdoutLine(
          `new certificate: serial ${issued.serial}, valid until ${new Date(issued.notAfter).toISOString()}`
        )

        const revoked = yield* Effect.either(session.client.revoke(oldLeaf.serial as SerialHex, "superseded"))
        if (Either.isLeft(revoked)) {
          yield* stdoutLine(
            `the old certificate (serial ${oldLeaf.serial}) could NOT be revoked (${revoked.left.message}); the new key is in use. Ask your operator to run \`sixchat irp revoke --serial ${oldLeaf.serial} --reason superseded\` (the old key is kept in ${keyFile}.old until then).`
          )
          return
        }
        yield* fileStep("cannot remove the old key's copy", () => {
          rmSync(`${keyFile}.old`, { force: true })
          rmSync(`${certFile}.old`, { force: true })
        })
        yield* stdoutLine(
          `the old certificate (serial ${oldLeaf.serial}) is revoked (superseded): sessions anyone still has with the old key are closed, and it is refused from now on`
        )
        yield* stdoutLine(
          `what your contacts will see: a key change warning for ${handle} the next time you talk (with --strict-keys they must accept it: \`sixchat trust ${handle}\`). Ask each of them to compare the safety number with you again (\`sixchat contact show ${handle}\`), in person or by a call.`
        )
      }).pipe(Effect.provide(clientLayer(o.crypto)))
    )
  }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(
    "replace your key: a new key certified by your IRP, the old certificate revoked (superseded); stop the agent first"
  )
)

export const idRotateCommand = rotate
