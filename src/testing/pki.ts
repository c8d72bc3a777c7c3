/**
 * A test PKI made with the project's own CA code (`layers/ca`), in memory: no `openssl`, no files. A root
 * and an issuing CA for one domain, as `sixchat irp init` makes them (PROTOCOL.md §13: root -> issuing CA
 * -> leaf), client certificates for handles and a server certificate for `irp.<domain>`.
 *
 * Keys and serial numbers come from the `Entropy` of the context (give a seeded one for the same keys on
 * every run) and validity starts at the `Clock`'s now (under `TestClock`, the epoch): what the verifier
 * then checks against the same clock.
 *
 *     const pki = yield* TestPki.make()                          // example.org
 *     const alice = yield* pki.identity("alice@example.org")     // { handle, pkcs8, chain }
 *     Effect.provide(pki.verifier)                               // a CertVerifier trusting the root
 */
import { Clock, Effect, Layer } from "effect"
import { Handle } from "../domain/brands.js"
import type { CaError } from "../domain/pki/errors.js"
import { SERIAL_BYTES, serialFromEntropy } from "../domain/pki/profile.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import {
  createIssuingCa,
  createRootCa,
  createServerCertificate,
  issueClientCertificate,
  loadIssuer
} from "../layers/ca/certificates.js"
import { createCsr } from "../layers/ca/csr.js"
import { generateKeyPair, KEY_SEED_BYTES } from "../layers/ca/keys.js"
import type { CertVerifier } from "../services/CertVerifier.js"
import { Entropy } from "../services/Entropy.js"

/** A key and the chain certifying it (DER, leaf first, then the issuing CA). */
export interface TestCredentials {
  readonly pkcs8: Uint8Array
  readonly chain: ReadonlyArray<Uint8Array>
}

export interface TestIdentity extends TestCredentials {
  readonly handle: Handle
}

export interface TestPki {
  readonly domain: string
  /** The root certificate (DER): the trust anchor. */
  readonly rootCertificate: Uint8Array
  /** A client certificate (EKU clientAuth) for `handle`, which must be of this domain. */
  readonly identity: (handle: string) => Effect.Effect<TestIdentity, CaError>
  /** A server certificate (EKU serverAuth) for these DNS names (default `irp.<domain>`). */
  readonly server: (names?: ReadonlyArray<string>) => Effect.Effect<TestCredentials, CaError>
  /** A `CertVerifier` that trusts the root (checks against the `Clock` of where it is used). */
  readonly verifier: Layer.Layer<CertVerifier>
}

export interface TestPkiOptions {
  /** Default `example.org`. */
  readonly domain?: string | undefined
  /** Days the certificates are valid from now (default 30). */
  readonly validityDays?: number | undefined
}

export const make = (options: TestPkiOptions = {}): Effect.Effect<TestPki, CaError, Entropy> =>
  Effect.gen(function* () {
    const domain = options.domain ?? "example.org"
    const validityDays = options.validityDays ?? 30
    const entropy = yield* Entropy
    const now = new Date(yield* Clock.currentTimeMillis)
    const serial = () => serialFromEntropy(entropy.bytes(SERIAL_BYTES))
    const key = () => generateKeyPair(entropy.bytes(KEY_SEED_BYTES))
    const serverNames = [`irp.${domain}`]

    const rootKey = yield* key()
    const rootDer = yield* createRootCa({
      domain,
      key: rootKey,
      now,
      serial: serial(),
      validityDays: validityDays + 2,
      serverNames
    })
    const root = yield* loadIssuer({ certificateDer: rootDer, pkcs8: rootKey.pkcs8, domain })
    const issuingKey = yield* key()
    const issuingDer = yield* createIssuingCa({
      key: issuingKey,
      issuer: root,
      now,
      serial: serial(),
      validityDays: validityDays + 1
    })
    const issuer = yield* loadIssuer({ certificateDer: issuingDer, pkcs8: issuingKey.pkcs8, domain })

    const identity = (handle: string) =>
      Effect.gen(function* () {
        const pair = yield* key()
        const h = Handle.make(handle)
        const csrDer = yield* createCsr({ handle: h, pkcs8: pair.pkcs8 })
        const issued = yield* issueClientCertificate({ csrDer, handle: h, issuer, now, serial: serial(), validityDays })
        return { handle: h, pkcs8: pair.pkcs8, chain: issued.chain }
      })
    const server = (names: ReadonlyArray<string> = serverNames) =>
      Effect.gen(function* () {
        const pair = yield* key()
        const issued = yield* createServerCertificate({
          spki: pair.spki,
          serverNames: names,
          issuer,
          now,
          serial: serial(),
          validityDays
        })
        return { pkcs8: pair.pkcs8, chain: issued.chain }
      })
    return {
      domain,
      rootCertificate: rootDer,
      identity,
      server,
      verifier: Layer.orDie(CertVerifierLive.layer({ anchors: [rootDer] }))
    }
  })
