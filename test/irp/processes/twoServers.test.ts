/**
 * IRP issue section 3: "Two `irp serve` processes on one PostgreSQL database: a registration made through
 * one is seen at once by a lookup and by a `Watch` through the other" — with real processes (the built
 * binary), one fresh schema, and clients (the IRP client library) in the test process. SIGTERM ends both
 * servers with exit 0.
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer, Queue, Stream } from "effect"
import { afterAll, describe } from "vitest"
import { type Address, Handle, parseAddress } from "../../../src/domain/brands.js"
import { DeviceId, Seq } from "../../../src/domain/irp/registry.js"
import { ENROLLMENT_TOKEN_BYTES, formatEnrollmentToken } from "../../../src/domain/pki/token.js"
import * as CertVerifierLive from "../../../src/layers/CertVerifierLive.js"
import { createCsr } from "../../../src/layers/ca/csr.js"
import { initDomain } from "../../../src/layers/ca/DomainDirectory.js"
import { generateKeyPair } from "../../../src/layers/ca/keys.js"
import * as CryptoLive from "../../../src/layers/crypto/CryptoLive.js"
import * as EntropyLive from "../../../src/layers/EntropyLive.js"
import * as IrpClientLive from "../../../src/layers/irp/client/IrpClientLive.js"
import * as SqlRegistry from "../../../src/layers/irp/registry/SqlRegistry.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import type { IdentityChange, IrpConnectOptions } from "../../../src/services/IrpClient.js"
import { IrpRegistry } from "../../../src/services/IrpRegistry.js"
import { type Running, start } from "../../support/cli.js"
import {
  freshSchema,
  PG_URL,
  PgTestSchema,
  postgres,
  requirePostgresTest,
  schemaClient
} from "../../support/postgres.js"

requirePostgresTest()

const root = mkdtempSync(join(tmpdir(), "sixchat-irp-processes-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const base = Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer)

/** `sixchat irp serve` on 127.0.0.1 port 0 over the schema; stopped (SIGTERM, exit 0 expected) with the scope. */
const serveProcess = (dir: string, db: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const process = start(["irp", "serve", "--dir", dir, "--listen", "127.0.0.1:0", "--db", db], {
        timeoutMs: 60_000
      })
      const listening = await process.waitFor(/listening on (127\.0\.0\.1:\d+)/)
      return { process, address: parseAddress(listening[1]!)! }
    }),
    ({ process }) => Effect.promise(() => stopped(process))
  )

const exits: Array<number | null> = []
const stopped = async (process: Running) => {
  process.child.kill("SIGTERM")
  exits.push(await process.exited)
}

describe.skipIf(!postgres.reachable)("two irp serve processes on one PostgreSQL database", () => {
  it.live("a Register through one is seen at once by a Lookup and a Watch through the other; SIGTERM exits 0", () =>
    Effect.gen(function* () {
      const schema = yield* Layer.build(freshSchema)
      const { schema: name } = Context.get(schema, PgTestSchema)
      const url = new URL(PG_URL)
      url.searchParams.set("schema", name)
      const dir = join(root, "example.org")
      const domain = yield* initDomain({
        dir,
        domain: "example.org",
        now: new Date(),
        entropy: (n) => new Uint8Array(randomBytes(n))
      })
      // A third "process" on the schema: the operator's side, minting tokens.
      const registry = Context.get(
        yield* Layer.build(
          SqlRegistry.layer.pipe(Layer.provide(schemaClient(2)), Layer.provide(Layer.succeedContext(schema)))
        ),
        IrpRegistry
      )
      const [first, second] = yield* Effect.all(
        [serveProcess(dir, url.toString()), serveProcess(dir, url.toString())],
        {
          concurrency: 2
        }
      )

      const connect = (address: Address, identity: IrpConnectOptions["identity"]) =>
        IrpClientLive.connect({ address, domain: "example.org", identity }).pipe(
          Effect.provide(Layer.orDie(CertVerifierLive.layer({ anchors: [domain.rootCertificate] })))
        )
      const enrol = (local: string, address: Address) =>
        Effect.gen(function* () {
          const handle = Handle.make(`${local}@example.org`)
          const token = formatEnrollmentToken(new Uint8Array(randomBytes(ENROLLMENT_TOKEN_BYTES)))
          yield* registry.createToken({
            handle,
            tokenHash: new Uint8Array(createHash("sha256").update(token).digest()),
            expiresAt: (yield* Clock.currentTimeMillis) + 600_000
          })
          const key = yield* generateKeyPair()
          const issued = yield* Effect.scoped(
            Effect.flatMap(connect(address, null), (c) =>
              Effect.flatMap(createCsr({ handle, pkcs8: key.pkcs8 }), (csr) => c.enroll({ handle, token, csr }))
            )
          )
          return { handle, identity: { pkcs8: key.pkcs8, chain: issued.chain } }
        })
      const alice = yield* enrol("alice", first.address)
      const bob = yield* enrol("bob", second.address)

      // Bob watches Alice through the second process...
      const bobOnSecond = yield* connect(second.address, bob.identity)
      const pushes = yield* Queue.unbounded<IdentityChange>()
      yield* Effect.forkScoped(
        Stream.runForEach(yield* bobOnSecond.watch([alice.handle]), (c) => Queue.offer(pushes, c))
      )
      // ... Alice registers through the first.
      const aliceOnFirst = yield* connect(first.address, alice.identity)
      yield* aliceOnFirst.register({
        deviceId: DeviceId.make("phone"),
        addresses: [{ host: "2001:db8::42", port: 4605 } as never],
        ttlSeconds: 300,
        seq: Seq.make(1n)
      })
      // The Lookup right after the Register's answer sees it (no polling, no retry).
      const found = yield* bobOnSecond.lookup(alice.handle)
      expect([found.status, found.bindings.map((b) => [b.deviceId, b.addresses[0]?.host])]).toEqual([
        "good",
        [["phone", "2001:db8::42"]]
      ])
      // The Watch push arrives without any further request from Bob.
      const change = yield* Queue.take(pushes)
      expect([change.handle, change.status, change.bindings.map((b) => b.deviceId)]).toEqual([
        alice.handle,
        "good",
        ["phone"]
      ])
      // And the other way round: Alice deregisters through the first, Bob's watch on the second sees it.
      yield* aliceOnFirst.deregister(DeviceId.make("phone"))
      const gone = yield* Queue.take(pushes)
      expect([gone.status, gone.bindings]).toEqual(["good", []])
      expect((yield* bobOnSecond.lookup(alice.handle)).bindings).toEqual([])
    }).pipe(
      Effect.scoped,
      Effect.provide(base),
      Effect.tap(() => Effect.sync(() => expect(exits).toEqual([0, 0])))
    )
  )
})
