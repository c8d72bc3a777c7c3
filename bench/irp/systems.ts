/**
 * The systems `bench:irp` puts under load (`../irp.ts`): the anchor (a bare Node TLS 1.3 server per
 * request kind), the floor of this design (`floor.ts`), and our IRP server over a SQLite file or a
 * PostgreSQL schema filled with bulk-inserted identities, each in a server process of its own
 * (`server.ts`) with its clients in this process.
 */
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Layer } from "effect"
import { makeAddress } from "../../src/domain/brands.js"
import { DeviceId, type Seq } from "../../src/domain/irp/registry.js"
import * as CertVerifierLive from "../../src/layers/CertVerifierLive.js"
import * as IrpClientLive from "../../src/layers/irp/client/IrpClientLive.js"
import { migrate } from "../../src/layers/irp/registry/migrations.js"
import * as PgLive from "../../src/layers/sql/PgLive.js"
import { connectAnchor } from "./anchor.js"
import { connectFloor } from "./floor.js"
import { type Op, type ServerProcess, spawnServer } from "./load.js"
import { type BenchIdentity, populate, randomFillerHandle } from "./setup.js"

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

/** A server process, stopped with the scope. */
const serverProcess = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.promise(() => spawnServer(args)),
    (s) => Effect.promise(() => s.stop())
  )

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
      promise: (c) => conns[c]!.lookup(randomFillerHandle(population)).then(() => undefined)
    }
    return { name, server, lookup, register: nothing } satisfies System
  })

/** Creates the registry's tables in `dbLayer`'s database and bulk-inserts `population` identities. */
const fill = (
  dbLayer: Layer.Layer<SqlClient.SqlClient, unknown>,
  population: number,
  filler: { readonly der: Uint8Array; readonly fingerprint: string }
) =>
  Effect.scoped(
    Effect.flatMap(Layer.build(dbLayer), (context) =>
      Effect.provideService(
        Effect.zipRight(migrate, populate({ from: 0, to: population, ...filler, now: Date.now() })),
        SqlClient.SqlClient,
        Context.get(context, SqlClient.SqlClient)
      )
    )
  )

/**
 * The same-work anchor (`anchor.ts`) over a fresh database holding `population` identities, one Node TLS
 * client per identity, sending the requests our clients send (as JSON) and parsing each answer.
 */
export const anchorSystem = (
  name: string,
  dir: string,
  db: string,
  dbLayer: Layer.Layer<SqlClient.SqlClient, unknown>,
  population: number,
  identities: ReadonlyArray<BenchIdentity>,
  filler: { readonly der: Uint8Array; readonly fingerprint: string }
) =>
  Effect.gen(function* () {
    yield* fill(dbLayer, population, filler)
    const caPem = readFileSync(join(dir, "ca.pem"), "utf8")
    const server = yield* serverProcess(["anchor", dir, db])
    const conns = yield* Effect.acquireRelease(
      Effect.promise(() =>
        Promise.all(identities.map((id) => connectAnchor(server.port, id, caPem, "irp.example.org")))
      ),
      (cs) =>
        Effect.sync(() => {
          for (const c of cs) c.close()
        })
    )
    const seqs = seqsOf(db, conns.length)
    let ids = 0
    const check = (answer: unknown) => {
      if (typeof answer !== "object" || answer === null || "error" in answer)
        throw new Error(`the anchor refused: ${JSON.stringify(answer)}`)
    }
    const system: System = {
      name,
      server,
      lookup: {
        promise: (c) =>
          conns[c]!.request({
            op: "lookup",
            id: String(++ids),
            handle: randomFillerHandle(population)
          }).then(check)
      },
      register: {
        promise: (c) => {
          seqs[c]! += 1n
          return conns[c]!.request({
            op: "register",
            id: String(++ids),
            deviceId: `bench-${String(c).padStart(2, "0")}`,
            addresses: [{ host: "192.0.2.1", port: 4605 }],
            ttlSeconds: 300,
            seq: String(seqs[c]!)
          }).then(check)
        }
      }
    }
    return system
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
  /** Answer cache entries (`irp serve --lookup-cache`). */
  cache = 0,
  /** Whether to create and fill the database (`false`: another system already did). */
  fresh = cache === 0
) =>
  Effect.gen(function* () {
    const t0 = Date.now()
    // Our own connection is closed before the server starts: an open SQLite connection holding the bulk
    // insert's write-ahead log would make every read of the server's consult it.
    if (fresh) yield* fill(dbLayer, population, filler)
    const insertSeconds = Math.round((Date.now() - t0) / 100) / 10
    const server = yield* serverProcess(["ours", dir, db, "text", String(cache)])
    const clients = yield* Effect.forEach(
      identities,
      (identity) =>
        IrpClientLive.connect({
          address: makeAddress("127.0.0.1", server.port),
          domain: "example.org",
          identity,
          requestTimeout: "60 seconds"
        }).pipe(Effect.provide(CertVerifierLive.layer({ anchors: [rootCertificate] }))),
      { concurrency: 4 }
    )
    const seqs = seqsOf(db, clients.length)
    // Each connection's device id made (and checked) once, and its seq branded without a Schema check per
    // request: the client checks both before it sends (`unsendable.ts`), and the anchor's load builds its
    // registration from plain strings. `DeviceId.make` and `Seq.make` per request cost this process a few
    // µs of CPU each (issue 15), charged to our client's figures only.
    const devices = clients.map((_, c) => DeviceId.make(`bench-${String(c).padStart(2, "0")}`))
    const addresses = [{ host: "192.0.2.1", port: 4605 }] as never
    const system: System = {
      name,
      server,
      lookup: {
        effect: (c) => Effect.suspend(() => clients[c]!.lookup(randomFillerHandle(population)))
      },
      register: {
        effect: (c) =>
          Effect.suspend(() => {
            seqs[c]! += 1n
            return clients[c]!.register({
              deviceId: devices[c]!,
              addresses,
              ttlSeconds: 300,
              seq: seqs[c]! as Seq
            })
          })
      }
    }
    return { system, insertSeconds }
  })

/**
 * Two server processes on one database as one system: connections alternate between them (even ones to
 * `a`, odd ones to `b`), and the CPU time is both processes'.
 */
export const twoProcesses = (name: string, a: System, b: System): System => {
  const pick = (kind: "lookup" | "register"): Op => {
    const [x, y] = [a[kind], b[kind]]
    if ("effect" in x && "effect" in y) return { effect: (c) => (c % 2 === 0 ? x.effect(c) : y.effect(c)) }
    throw new Error("twoProcesses combines our servers only")
  }
  return {
    name,
    server: {
      port: a.server.port,
      cpu: () => Promise.all([a.server.cpu(), b.server.cpu()]).then(([x, y]) => x + y),
      stop: () => Promise.resolve()
    },
    lookup: pick("lookup"),
    register: pick("register")
  }
}

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
