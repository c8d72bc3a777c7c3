/**
 * The agent renews its own certificate before it expires (issue 10 §2; PROTOCOL.md 17.4.8): at 2/3 of
 * its lifetime (`domain/agent/renewal.ts`) it sends `Renew` with a CSR for the same key on its IRP
 * connection, checks the issued chain as `id enroll` does (17.4.6: it verifies with the agent's
 * CertVerifier, under the domain's anchor, names our handle, certifies our key), has it stored in the identity home (atomically, by
 * `store`), and only then presents it in new handshakes and IRP connections. A failed attempt is
 * logged and retried with a doubling delay; the old certificate stays in use until a new one is stored.
 */
import { Clock, Data, Duration, Effect, Either } from "effect"
import { renewalDue, retryDelay } from "../../../domain/agent/renewal.js"
import type { Handle } from "../../../domain/brands.js"
import { certificateIdentity } from "../../../domain/cert/identity.js"
import { makeLocalIdentity } from "../../../domain/handshake/identity.js"
import { CertVerifier } from "../../../services/CertVerifier.js"
import { cryptoSuite } from "../../../services/Crypto.js"
import { createCsr } from "../../ca/csr.js"
import type { CryptoPorts } from "../../crypto/CryptoLive.js"
import type { CredentialsCell } from "./credentials.js"
import { IrpConnection } from "./IrpConnection.js"

export interface RenewalOptions {
  /** Writes the new chain (DER, leaf first) into the identity home, atomically; fails if it cannot. */
  readonly store: (chain: ReadonlyArray<Uint8Array>) => Effect.Effect<void, Error>
  /** Told after a renewal took effect (the CLI prints a line). */
  readonly onRenewed?: ((serial: string, notAfter: Date) => Effect.Effect<void>) | undefined
  /** Fraction of the lifetime at which to renew (default 2/3). */
  readonly renewAt?: number | undefined
}

/** Timers cannot wait longer than about 24.8 days: longer waits are cut and the due time re-read. */
const LONGEST_WAIT_MS = 86_400_000

class RenewalFailed extends Data.TaggedError("RenewalFailed")<{ readonly message: string }> {}

/** Runs forever (fork it in the agent's scope). */
export const run = (
  handle: Handle,
  cell: CredentialsCell,
  options: RenewalOptions
): Effect.Effect<void, never, IrpConnection | CryptoPorts | CertVerifier> =>
  Effect.gen(function* () {
    const connection = yield* IrpConnection
    const crypto = yield* cryptoSuite
    const verifier = yield* CertVerifier

    const renewOnce = Effect.gen(function* () {
      const { pkcs8 } = cell.get()
      const csr = yield* Effect.mapError(createCsr({ handle, pkcs8 }), (e) => new RenewalFailed({ message: e.message }))
      const issued = yield* Effect.mapError(
        connection.use((client) => client.renew(csr)),
        (e) => new RenewalFailed({ message: `the IRP refused or did not answer: ${e.message}` })
      )
      const identity = makeLocalIdentity(crypto, pkcs8, issued.chain)
      if (Either.isLeft(identity))
        return yield* new RenewalFailed({ message: `the issued chain does not fit our key: ${identity.left}` })
      yield* verifier
        .verify({ chain: issued.chain, purpose: "client-auth", expectedHandle: handle })
        .pipe(
          Effect.mapError((e) => new RenewalFailed({ message: `the issued certificate does not verify: ${e.message}` }))
        )
      yield* Effect.mapError(
        options.store(issued.chain),
        (e) => new RenewalFailed({ message: `cannot store it: ${e.message}` })
      )
      cell.set({ identity: identity.right, pkcs8, chain: issued.chain })
      // The IRP judges a connection by the certificate it began with: connect again with the new one.
      yield* connection.reconnect("connecting again with our renewed certificate")
      if (options.onRenewed !== undefined) yield* options.onRenewed(issued.serial, new Date(issued.notAfter))
    })

    let failures = 0
    for (;;) {
      const leaf = certificateIdentity(cell.get().chain[0] ?? new Uint8Array())
      if (leaf === undefined) return yield* Effect.logWarning("agent: our certificate does not parse; no renewal")
      const notAfter = leaf.notAfter.getTime()
      const now = yield* Clock.currentTimeMillis
      const wait =
        failures === 0
          ? renewalDue(leaf.notBefore.getTime(), notAfter, options.renewAt) - now
          : retryDelay(failures, now, notAfter)
      if (wait > 0) {
        yield* Effect.sleep(Duration.millis(Math.min(wait, LONGEST_WAIT_MS)))
        if (wait > LONGEST_WAIT_MS) continue
      }
      const result = yield* Effect.either(renewOnce)
      if (Either.isRight(result)) {
        failures = 0
        continue
      }
      failures++
      const expired = (yield* Clock.currentTimeMillis) >= notAfter
      yield* Effect.logWarning(
        `agent: renewing our certificate failed (${result.left.message}); ${
          expired
            ? "it has EXPIRED: peers and the IRP refuse it; ask the operator for a token and enrol again (sixchat id enroll)"
            : `retrying; it is valid until ${leaf.notAfter.toISOString()}`
        }`
      )
    }
  })
