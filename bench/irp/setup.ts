/**
 * What the IRP benchmark sets up before it measures: a domain directory, client identities issued by the
 * domain's CA directly (no protocol round trips), the sizes of the documents exchanged, and
 * registered identities inserted in bulk straight into the registry's tables (one SQL statement per
 * table generating the rows server-side: a million rows in seconds, not a million Registers).
 */
import { createHash, randomBytes } from "node:crypto"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { Handle } from "../../src/domain/brands.js"
import type { BindingInfo } from "../../src/domain/irp/messages.js"
import { DeviceId, Seq } from "../../src/domain/irp/registry.js"
import { encodeIrp } from "../../src/domain/irp/xml.js"
import { pemEncode } from "../../src/domain/pem.js"
import { ulidFrom } from "../../src/domain/ulid.js"
import * as CertificateAuthorityLive from "../../src/layers/ca/CertificateAuthority.js"
import { createCsr } from "../../src/layers/ca/csr.js"
import { initDomain, type LoadedDomain, loadDomain } from "../../src/layers/ca/DomainDirectory.js"
import { generateKeyPair, KEY_SEED_BYTES } from "../../src/layers/ca/keys.js"
import * as EntropyLive from "../../src/layers/EntropyLive.js"

export const DOMAIN = "example.org"
const entropy = (n: number) => new Uint8Array(randomBytes(n))

export interface BenchIdentity {
  readonly handle: Handle
  readonly pkcs8: Uint8Array
  readonly chain: ReadonlyArray<Uint8Array>
  readonly keyPem: string
  readonly chainPem: string
}

/** The handle of the n-th bulk-registered identity: `u0000042@example.org`. */
export const fillerHandle = (n: number): Handle => Handle.make(`u${String(n).padStart(7, "0")}@${DOMAIN}`)

/**
 * A random one of the first `population` filler handles, for the load loops: `fillerHandle`'s spelling
 * without its Schema check, which cost the load generator ~8 µs of CPU and 2 KB of garbage per request
 * under load, charged to the client CPU of every system alike (measured with `irp/client.js`).
 */
export const randomFillerHandle = (population: number): Handle =>
  `u${String(Math.floor(Math.random() * population)).padStart(7, "0")}@${DOMAIN}` as Handle

/** A domain in `dir` and `clients` identities issued by its CA (`bench-00@…`), plus one filler certificate. */
export const prepareDomain = (dir: string, clients: number) =>
  Effect.gen(function* () {
    yield* initDomain({ dir, domain: DOMAIN, now: new Date(), entropy })
    const domain = yield* loadDomain(dir)
    const ca = yield* CertificateAuthorityLive.make(domain).pipe(Effect.provide(EntropyLive.layer))
    const issue = (handle: Handle) =>
      Effect.gen(function* () {
        const key = yield* generateKeyPair(entropy(KEY_SEED_BYTES))
        const issued = yield* ca.issueClient(yield* createCsr({ handle, pkcs8: key.pkcs8 }), handle)
        return {
          handle,
          pkcs8: key.pkcs8,
          chain: issued.chain,
          keyPem: pemEncode("PRIVATE KEY", key.pkcs8),
          chainPem: issued.chain.map((d) => pemEncode("CERTIFICATE", d)).join(""),
          spki: issued.spki,
          serial: issued.serial
        }
      })
    const identities: Array<BenchIdentity> = yield* Effect.forEach(
      Array.from({ length: clients }, (_, i) => Handle.make(`bench-${String(i).padStart(2, "0")}@${DOMAIN}`)),
      issue
    )
    const filler = yield* issue(fillerHandle(0))
    return { domain, identities, filler: { der: filler.chain[0]!, fingerprint: fingerprintOf(filler.spki) } }
  })

const fingerprintOf = (spki: Uint8Array) => createHash("sha256").update(spki).digest("hex")

export interface Documents {
  readonly lookup: Uint8Array
  readonly lookupResult: Uint8Array
  readonly register: Uint8Array
  readonly registered: Uint8Array
}

/** The requests and answers the benchmark exchanges, encoded (their sizes go into the report). */
export const documents = (domain: LoadedDomain, fillerDer: Uint8Array, now: number): Documents => {
  const id = ulidFrom(now, entropy(10))
  const binding: BindingInfo = {
    deviceId: DeviceId.make("d1"),
    addresses: [{ host: "192.0.2.1", port: 4605 }] as unknown as BindingInfo["addresses"],
    expiresAt: now + 86_400_000,
    seq: Seq.make(1n)
  }
  const mine: BindingInfo = { ...binding, deviceId: DeviceId.make("bench-00"), seq: Seq.make(BigInt(now)) }
  return {
    lookup: encodeIrp({ _tag: "irp.Lookup", id, handle: fillerHandle(1) }),
    lookupResult: encodeIrp({
      _tag: "irp.LookupResult",
      id,
      handle: fillerHandle(1),
      status: "good",
      chain: [fillerDer, ...domain.issuer.chain],
      bindings: [binding]
    }),
    register: encodeIrp({
      _tag: "irp.Register",
      id,
      deviceId: mine.deviceId,
      addresses: mine.addresses,
      ttlSeconds: 300,
      seq: mine.seq
    }),
    registered: encodeIrp({
      _tag: "irp.Registered",
      id,
      bindings: [mine],
      observed: { host: "127.0.0.1", port: 54321 } as never,
      natSuspected: true
    })
  }
}

/**
 * Inserts identities `from` .. `to - 1` (`u…@example.org`): a good certificate each (all sharing one real
 * DER, so answers have the real size) and one unexpired binding each, then refreshes planner statistics.
 */
export const populate = (params: {
  readonly from: number
  readonly to: number
  readonly der: Uint8Array
  readonly fingerprint: string
  readonly now: number
}) =>
  Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const { from, to, der, fingerprint, now } = params
    const notAfter = now + 365 * 86_400_000
    const expires = now + 86_400_000
    const addresses = JSON.stringify([{ host: "192.0.2.1", port: 4605 }])
    yield* sql.withTransaction(
      sql.onDialectOrElse({
        pg: () =>
          Effect.zipRight(
            sql`INSERT INTO irp_certificates (serial, handle, fingerprint, der, not_before, not_after, status)
              SELECT 'f' || to_hex(i), 'u' || lpad(i::text, 7, '0') || '@example.org', ${fingerprint}, ${der},
                ${now}, ${notAfter}, 'good' FROM generate_series(${from}::bigint, ${to - 1}::bigint) AS i`,
            sql`INSERT INTO irp_bindings (handle, device_id, addresses, observed, expires_at, seq, updated_at)
              SELECT 'u' || lpad(i::text, 7, '0') || '@example.org', 'd1', ${addresses}, NULL, ${expires}, 1, ${now}
              FROM generate_series(${from}::bigint, ${to - 1}::bigint) AS i`
          ),
        orElse: () =>
          Effect.zipRight(
            sql`WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${to - 1})
              INSERT INTO irp_certificates (serial, handle, fingerprint, der, not_before, not_after, status)
              SELECT printf('f%x', i), printf('u%07d@example.org', i), ${fingerprint}, ${der}, ${now}, ${notAfter},
                'good' FROM n`,
            sql`WITH RECURSIVE n(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM n WHERE i < ${to - 1})
              INSERT INTO irp_bindings (handle, device_id, addresses, observed, expires_at, seq, updated_at)
              SELECT printf('u%07d@example.org', i), 'd1', ${addresses}, NULL, ${expires}, 1, ${now} FROM n`
          )
      })
    )
    yield* sql`ANALYZE`
  })
