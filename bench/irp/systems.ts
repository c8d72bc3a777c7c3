/**
 * The systems `bench:irp` puts under load (`../irp.ts`): the anchor (a bare Node TLS 1.3 server per
 * request kind), the floor of this design (`floor.ts`), and our IRP server over a SQLite file or a
 * PostgreSQL schema filled with bulk-inserted identities, each in a server process of its own
 * (`server.ts`) with its clients in this process.
 */
import { randomBytes } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Layer } from "effect"
import { makeAddress } from "../../src/domain/brands.js"
import { DeviceId, Seq } from "../../src/domain/irp/registry.js"
import * as IrpClientLive from "../../src/layers/irp/client/IrpClientLive.js"
import { migrate } from "../../src/layers/irp/registry/migrations.js"
import * as PgLive from "../../src/layers/sql/PgLive.js"
import { connectFloor } from "./floor.js"
import { connectBare, type Op, type ServerProcess, spawnServer } from "./load.js"
import { type BenchIdentity, type documents, fillerHandle, populate } from "./setup.js"
import { frameOf } from "./wire.js"

/** One server under load: what a connection does for each kind of request. */
export interface System {
  readonly name: string
  readonly server: ServerProcess
  readonly lookup: Op
  readonly register: Op
}

/** Each bench device's growing `seq`, per database: two servers on one file share the devices' rows. */
const seqsByDatabase = new Map<string, Array<bigint>>()
const seqsOf = (db: string, devices: number): Array<bigint> => {
  let seqs = seqsByDatabase.get(db)
  if (seqs === undefined) {
    seqs = Array.from({ length: devices }, () => BigInt(Date.now()) * 1000n)
    seqsByDatabase.set(db, seqs)
  }
  return seqs
}

const nothing: Op = { promise: () => Promise.resolve() }

/** Warm-up: a lookup and a registration at once on each connection. */
export const both = (system: System): Op => {
  const { lookup, register } = system
  if ("effect" in lookup && "effect" in register)
    return { effect: (c) => Effect.all([lookup.effect(c), register.effect(c)], { concurrency: 2, discard: true }) }
  const promise = (op: Op, c: number) => ("promise" in op ? op.promise(c) : Effect.runPromise(op.effect(c)))
  return { promise: (c) => Promise.all([promise(lookup, c), promise(register, c)]).then(() => undefined) }
}

/** A server process, stopped with the scope. */
const serverProcess = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.promise(() => spawnServer(args)),
    (s) => Effect.promise(() => s.stop())
  )

/** The anchor: one bare TLS server per request kind, each with its fixed reply. */
export const bareSystem = (dir: string, identities: ReadonlyArray<BenchIdentity>, docs: ReturnType<typeof documents>) =>
  Effect.gen(function* () {
    const caPem = readFileSync(join(dir, "ca.pem"), "utf8")
    const start = (name: string, request: Uint8Array, reply: Uint8Array) =>
      Effect.gen(function* () {
        const replyFile = join(dir, `bench-${name}.reply`)
        writeFileSync(replyFile, reply)
        const server = yield* serverProcess(["bare", dir, replyFile])
        const conns = yield* Effect.acquireRelease(
          Effect.promise(() =>
            Promise.all(identities.map((id) => connectBare(server.port, id, caPem, "irp.example.org")))
          ),
          (cs) =>
            Effect.sync(() => {
              for (const c of cs) c.close()
            })
        )
        const frame = frameOf(request)
        return { server, send: { promise: (c: number) => conns[c]!.request(frame) } }
      })
    const lookup = yield* start("lookup", docs.lookup, docs.lookupResult)
    const register = yield* start("register", docs.register, docs.registered)
    return [
      { name: "bare", server: lookup.server, lookup: lookup.send, register: nothing },
      { name: "bare-register", server: register.server, lookup: nothing, register: register.send }
    ] as const
  })

/** The floor (`irp/floor.ts`) over the SQLite file `db` already filled with `population` identities. */
export const floorSystem = (name: string, dir: string, db: string, population: number) =>
  Effect.gen(function* () {
    const server = yield* serverProcess(["floor", dir, db])
    const conns = yield* Effect.acquireRelease(
      Effect.promise(() => Promise.all(Array.from({ length: 16 }, () => connectFloor(server.port)))),
      (cs) =>
        Effect.sync(() => {
          for (const c of cs) c.close()
        })
    )
    const lookup: Op = {
      promise: (c) => conns[c]!.lookup(fillerHandle(Math.floor(Math.random() * population))).then(() => undefined)
    }
    return { name, server, lookup, register: nothing } satisfies System
  })

/** Our server over a fresh database holding `population` identities, with one client per identity. */
export const oursSystem = (
  name: string,
  dir: string,
  db: string,
  dbLayer: Layer.Layer<SqlClient.SqlClient, unknown>,
  population: number,
  identities: ReadonlyArray<BenchIdentity>,
  filler: { readonly der: Uint8Array; readonly fingerprint: string },
  rootCertificate: Uint8Array,
  /** Answer cache entries (`irp serve --lookup-cache`); with a cache, the database is the one already filled. */
  cache = 0
) =>
  Effect.gen(function* () {
    const t0 = Date.now()
    // Our own connection is closed before the server starts: an open SQLite connection holding the bulk
    // insert's write-ahead log would make every read of the server's consult it.
    if (cache === 0)
      yield* Effect.scoped(
        Effect.flatMap(Layer.build(dbLayer), (context) =>
          Effect.provideService(
            Effect.zipRight(migrate, populate({ from: 0, to: population, ...filler, now: Date.now() })),
            SqlClient.SqlClient,
            Context.get(context, SqlClient.SqlClient)
          )
        )
      )
    const insertSeconds = Math.round((Date.now() - t0) / 100) / 10
    const server = yield* serverProcess(["ours", dir, db, "text", String(cache)])
    const clients = yield* Effect.forEach(
      identities,
      (identity) =>
        IrpClientLive.connect({
          address: makeAddress("127.0.0.1", server.port),
          domain: "example.org",
          anchors: [rootCertificate],
          identity,
          requestTimeout: "60 seconds"
        }),
      { concurrency: 4 }
    )
    const seqs = seqsOf(db, clients.length)
    const system: System = {
      name,
      server,
      lookup: {
        effect: (c) => Effect.suspend(() => clients[c]!.lookup(fillerHandle(Math.floor(Math.random() * population))))
      },
      register: {
        effect: (c) =>
          Effect.suspend(() => {
            seqs[c]! += 1n
            return clients[c]!.register({
              deviceId: DeviceId.make(`bench-${String(c).padStart(2, "0")}`),
              addresses: [{ host: "192.0.2.1", port: 4605 }] as never,
              ttlSeconds: 300,
              seq: Seq.make(seqs[c]!)
            })
          })
      }
    }
    return { system, insertSeconds }
  })

/** A fresh PostgreSQL schema at `url`, dropped with the scope; `undefined` when PostgreSQL is not reachable. */
export const pgSchema = (url: string) =>
  Effect.gen(function* () {
    const admin = yield* Layer.build(PgLive.layer(url, { maxConnections: 1, connectTimeout: "3 seconds" })).pipe(
      Effect.map((c) => Context.get(c, SqlClient.SqlClient)),
      Effect.option
    )
    if (admin._tag === "None") return undefined
    const schema = `sixchat_bench_${randomBytes(5).toString("hex")}`
    yield* Effect.acquireRelease(Effect.orDie(admin.value.unsafe(`CREATE SCHEMA ${schema}`)), () =>
      Effect.ignore(admin.value.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
    )
    return PgLive.withSearchPath(url, schema)!
  })
