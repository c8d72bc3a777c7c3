/**
 * The anchor of `bench:irp` (issue 15): what a developer would write instead of our server for the same
 * job, with plain callbacks. A `node:tls` 1.3 server with mutual authentication (the domain's server
 * certificate, client certificates required and verified under the domain's root) that does the SAME
 * work per request as ours, answering in JSON instead of XML:
 *
 * * Lookup `{op:"lookup",id,handle}`: the registry's own identity statement (the same SQL text as
 *   `SqlRegistry`'s `identityStatement`, prepared once: better-sqlite3 on a read-only connection with the
 *   same memory map as `SyncReads`, or a named `pg` statement), answered with the certificate chain
 *   (base64 DER, leaf and issuers), the status and the unexpired bindings.
 * * Register `{op:"register",id,deviceId,addresses,ttlSeconds,seq}`: the caller's handle from its
 *   verified certificate, then the same durable write as `SqlRegistry.register` (the same statements: on
 *   PostgreSQL the per-handle advisory lock, the device count, the conditional upsert, the bindings read,
 *   in one transaction; `synchronous = FULL` on SQLite as `SqliteLive` sets it), answered with the bindings,
 *   the observed address and the NAT flag. Group commit: on SQLite, the registrations that arrive in one
 *   turn of the event loop share one transaction (one WAL sync); on PostgreSQL each runs in its own
 *   transaction on a pooled connection and the server groups concurrent commits' WAL flushes.
 *
 * What it leaves out (as a bare implementation would): rate limits, the revocation view, the request log,
 * the change feed, schema checks beyond `JSON.parse` and a few `typeof`s.
 */
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as Tls from "node:tls"
import Sqlite from "better-sqlite3"
import { pemDecode, pemEncode } from "../../src/domain/pem.js"
import { frameOf } from "./wire.js"

/** Pooled PostgreSQL connections of the anchor: `PgLive`'s default, which our server runs with. */
export const PG_POOL = 10

const LOCK_CLASS_HANDLE = 46041
const MAX_DEVICES = 16

/** The statements, as `SqlRegistry` compiles them (`?` on SQLite, `$n` on PostgreSQL). */
const statements = (pg: boolean) => {
  let n = 0
  const p = () => (pg ? `$${++n}` : "?")
  const reset = () => {
    n = 0
  }
  reset()
  const identity = `SELECT c.serial, c.handle, c.fingerprint, c.der, c.not_before, c.not_after, c.status, c.revoked_at,
          c.reason, b.device_id, b.addresses, b.observed, b.expires_at, CAST(b.seq AS TEXT) AS seq, b.updated_at
        FROM irp_certificates c LEFT JOIN irp_bindings b ON b.handle = c.handle AND b.expires_at > CAST(${p()} AS BIGINT)
        WHERE c.serial = (SELECT serial FROM irp_certificates
          WHERE handle = CAST(${p()} AS TEXT) AND status = 'good' AND not_after > CAST(${p()} AS BIGINT)
          ORDER BY not_before DESC, serial DESC LIMIT 1)
        ORDER BY b.device_id`
  reset()
  const count = `SELECT COUNT(*) AS n FROM irp_bindings
                WHERE handle = CAST(${p()} AS TEXT) AND device_id <> CAST(${p()} AS TEXT) AND expires_at > CAST(${p()} AS BIGINT)`
  reset()
  const upsert = `INSERT INTO irp_bindings
                (handle, device_id, addresses, observed, expires_at, seq, updated_at)
              VALUES (${p()}, ${p()}, ${p()}, ${p()}, ${p()}, ${p()}, ${p()})
              ON CONFLICT (handle, device_id) DO UPDATE SET
                addresses = excluded.addresses, observed = excluded.observed, expires_at = excluded.expires_at,
                seq = excluded.seq, updated_at = excluded.updated_at
              WHERE irp_bindings.seq < excluded.seq
              RETURNING device_id`
  reset()
  const bindings = `SELECT device_id, addresses, observed, expires_at, CAST(seq AS TEXT) AS seq, updated_at FROM irp_bindings
            WHERE handle = CAST(${p()} AS TEXT) AND expires_at > CAST(${p()} AS BIGINT) ORDER BY device_id`
  reset()
  const lock = `SELECT pg_advisory_xact_lock(${p()}, ${p()})`
  return { identity, count, upsert, bindings, lock }
}

type Row = Record<string, unknown>

/** The part of `pg` (no type declarations installed; `@effect/sql-pg` runs on it) the anchor uses. */
type PgQuery = string | { readonly name: string; readonly text: string; readonly values: ReadonlyArray<unknown> }
type PgCallback = (err: Error | undefined, result: { readonly rows: Array<Row> }) => void
interface PgClient {
  readonly query: (query: PgQuery, callback: PgCallback) => void
}
interface PgPool {
  readonly query: (query: PgQuery, callback: PgCallback) => void
  readonly connect: (
    callback: (err: Error | undefined, client: PgClient | undefined, release: (err?: Error) => void) => void
  ) => void
}
const Pg = createRequire(import.meta.url)("pg") as {
  readonly Pool: new (config: { readonly connectionString: string; readonly max: number }) => PgPool
}

const handleLockKey = (handle: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < handle.length; i++) h = Math.imul(h ^ handle.charCodeAt(i), 0x01000193)
  return h | 0
}

const bindingJson = (row: Row) => ({
  deviceId: row.device_id,
  addresses: JSON.parse(row.addresses as string),
  expiresAt: Number(row.expires_at),
  seq: row.seq
})

interface LookupRequest {
  readonly op: "lookup"
  readonly id: string
  readonly handle: string
}
interface RegisterRequest {
  readonly op: "register"
  readonly id: string
  readonly deviceId: string
  readonly addresses: ReadonlyArray<{ readonly host: string; readonly port: number }>
  readonly ttlSeconds: number
  readonly seq: string
}
export type Request = LookupRequest | RegisterRequest

/** The storage half: answers as JSON text, through `reply` (possibly later). */
interface Store {
  readonly lookup: (request: LookupRequest, reply: (answer: string) => void) => void
  readonly register: (
    handle: string,
    observed: { host: string; port: number },
    request: RegisterRequest,
    reply: (answer: string) => void
  ) => void
}

const lookupAnswer = (request: LookupRequest, rows: ReadonlyArray<Row>, issuers: ReadonlyArray<string>) => {
  const first = rows[0]
  if (first === undefined)
    return JSON.stringify({ id: request.id, handle: request.handle, status: "unknown", chain: [], bindings: [] })
  return JSON.stringify({
    id: request.id,
    handle: request.handle,
    status: "good",
    chain: [Buffer.from(first.der as Uint8Array).toString("base64"), ...issuers],
    bindings: rows.filter((r) => r.device_id !== null).map(bindingJson)
  })
}

const registerAnswer = (
  request: RegisterRequest,
  observed: { host: string; port: number },
  rows: ReadonlyArray<Row> | string
) =>
  typeof rows === "string"
    ? JSON.stringify({ id: request.id, error: rows })
    : JSON.stringify({
        id: request.id,
        bindings: rows.map(bindingJson),
        observed,
        natSuspected: !request.addresses.some((a) => a.host === observed.host)
      })

const leaseMs = (ttl: number) => Math.min(Math.max(ttl, 60), 3600) * 1000

const sqliteStore = (path: string, issuers: ReadonlyArray<string>): Store => {
  const s = statements(false)
  const reader = new Sqlite(path, { readonly: true, fileMustExist: true })
  reader.pragma("mmap_size = 2147483648")
  const writer = new Sqlite(path, { fileMustExist: true })
  writer.pragma("journal_mode = WAL")
  writer.pragma("synchronous = FULL")
  const identity = reader.prepare(s.identity)
  const count = writer.prepare(s.count)
  const upsert = writer.prepare(s.upsert)
  const bindings = writer.prepare(s.bindings)
  type Job = {
    handle: string
    observed: { host: string; port: number }
    r: RegisterRequest
    reply: (a: string) => void
  }
  let queue: Array<Job> = []
  const one = (job: Job, now: number): ReadonlyArray<Row> | string => {
    const { handle, r } = job
    const others = Number((count.get(handle, r.deviceId, now) as Row).n)
    if (others >= MAX_DEVICES) return "too_many_devices"
    const stored = upsert.all(
      handle,
      r.deviceId,
      JSON.stringify(r.addresses),
      JSON.stringify(job.observed),
      now + leaseMs(r.ttlSeconds),
      BigInt(r.seq),
      now
    )
    if (stored.length === 0) return "stale_sequence"
    return bindings.all(handle, now) as ReadonlyArray<Row>
  }
  const flush = writer.transaction((jobs: ReadonlyArray<Job>, now: number) => jobs.map((job) => one(job, now)))
  return {
    lookup: (request, reply) => {
      const at = Date.now()
      reply(lookupAnswer(request, identity.all(at, request.handle, at) as ReadonlyArray<Row>, issuers))
    },
    register: (handle, observed, r, reply) => {
      queue.push({ handle, observed, r, reply })
      if (queue.length > 1) return
      setImmediate(() => {
        const jobs = queue
        queue = []
        let results: ReadonlyArray<ReadonlyArray<Row> | string>
        try {
          results = flush(jobs, Date.now())
        } catch {
          results = jobs.map(() => "internal")
        }
        jobs.forEach((job, i) => {
          job.reply(registerAnswer(job.r, job.observed, results[i]!))
        })
      })
    }
  }
}

const pgStore = (url: string, issuers: ReadonlyArray<string>): Store => {
  const s = statements(true)
  const pool = new Pg.Pool({ connectionString: url, max: PG_POOL })
  return {
    lookup: (request, reply) => {
      const at = Date.now()
      pool.query({ name: "identity", text: s.identity, values: [at, request.handle, at] }, (err, result) => {
        if (err) return reply(JSON.stringify({ id: request.id, error: "internal" }))
        reply(lookupAnswer(request, result.rows, issuers))
      })
    },
    register: (handle, observed, r, reply) => {
      const now = Date.now()
      pool.connect((err, client, release) => {
        if (err || client === undefined) return reply(JSON.stringify({ id: r.id, error: "internal" }))
        const fail = (e: unknown) => {
          client.query("ROLLBACK", () => {
            release(e instanceof Error ? e : undefined)
            reply(JSON.stringify({ id: r.id, error: "internal" }))
          })
        }
        const done = (answer: ReadonlyArray<Row> | string) =>
          client.query("COMMIT", (e) => {
            release()
            if (e) return reply(JSON.stringify({ id: r.id, error: "internal" }))
            reply(registerAnswer(r, observed, answer))
          })
        client.query("BEGIN", (e0) => {
          if (e0) return fail(e0)
          client.query({ name: "lock", text: s.lock, values: [LOCK_CLASS_HANDLE, handleLockKey(handle)] }, (e1) => {
            if (e1) return fail(e1)
            client.query({ name: "count", text: s.count, values: [handle, r.deviceId, now] }, (e2, counted) => {
              if (e2) return fail(e2)
              if (Number(counted.rows[0]?.n) >= MAX_DEVICES) return done("too_many_devices")
              const values = [
                handle,
                r.deviceId,
                JSON.stringify(r.addresses),
                JSON.stringify(observed),
                now + leaseMs(r.ttlSeconds),
                r.seq,
                now
              ]
              client.query({ name: "upsert", text: s.upsert, values }, (e3, stored) => {
                if (e3) return fail(e3)
                if (stored.rows.length === 0) return done("stale_sequence")
                client.query({ name: "bindings", text: s.bindings, values: [handle, now] }, (e4, found) => {
                  if (e4) return fail(e4)
                  done(found.rows)
                })
              })
            })
          })
        })
      })
    }
  }
}

const isRequest = (value: unknown): value is Request => {
  if (typeof value !== "object" || value === null) return false
  const r = value as Record<string, unknown>
  if (typeof r.id !== "string") return false
  if (r.op === "lookup") return typeof r.handle === "string"
  return (
    r.op === "register" &&
    typeof r.deviceId === "string" &&
    Array.isArray(r.addresses) &&
    typeof r.ttlSeconds === "number" &&
    typeof r.seq === "string"
  )
}

/** Reads one frame at a time (length-prefixed, PROTOCOL.md §3 framing) and hands each payload on. */
const frameReader = (onFrame: (payload: Buffer) => void) => {
  let buffered: Buffer = Buffer.alloc(0)
  return (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
    while (buffered.length >= 4) {
      const length = buffered.readUInt32BE(0)
      if (buffered.length < 4 + length) break
      onFrame(buffered.subarray(4, 4 + length))
      buffered = buffered.subarray(4 + length)
    }
  }
}

/** Listens on 127.0.0.1 (any port) for the domain in `dir` over `db` (`sqlite:PATH` or a PostgreSQL URL). */
export const anchorServer = (dir: string, db: string, issuerChain: ReadonlyArray<Uint8Array>): Promise<number> =>
  new Promise((resolve, reject) => {
    const pem = (file: string) => readFileSync(`${dir}/${file}`, "utf8")
    const caDers = pemDecode(pem("ca.pem"), "CERTIFICATE")
    // What our server sends after the leaf: the domain's issuing chain.
    const issuers = issuerChain.map((der) => Buffer.from(der).toString("base64"))
    const store = db.startsWith("sqlite:") ? sqliteStore(db.slice(7), issuers) : pgStore(db, issuers)
    const server = Tls.createServer(
      {
        key: pem("server-key.pem"),
        cert: pem("server.pem"),
        ca: caDers.map((der) => pemEncode("CERTIFICATE", der)),
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: "TLSv1.3",
        maxVersion: "TLSv1.3"
      },
      (socket) => {
        socket.setNoDelay(true)
        const peer = socket.getPeerCertificate()
        const handle = String(peer.subject?.CN ?? "")
        const observed = { host: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 }
        const reply = (answer: string) => {
          if (!socket.destroyed) socket.write(frameOf(Buffer.from(answer)))
        }
        socket.on(
          "data",
          frameReader((payload) => {
            let request: unknown
            try {
              request = JSON.parse(payload.toString("utf8"))
            } catch {
              return socket.destroy()
            }
            if (!isRequest(request)) return socket.destroy()
            if (request.op === "lookup") store.lookup(request, reply)
            else store.register(handle, observed, request, reply)
          })
        )
        socket.on("error", () => socket.destroy())
      }
    )
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port))
  })

// --- the anchor's client ------------------------------------------------------------------

export interface AnchorConnection {
  /** Sends one request and resolves with its parsed JSON answer. */
  readonly request: (request: Request) => Promise<unknown>
  readonly close: () => void
}

export const connectAnchor = (
  port: number,
  identity: { readonly keyPem: string; readonly chainPem: string },
  caPem: string,
  serverName: string
): Promise<AnchorConnection> =>
  new Promise((resolve, reject) => {
    const socket = Tls.connect({
      host: "127.0.0.1",
      port,
      servername: serverName,
      key: identity.keyPem,
      cert: identity.chainPem,
      ca: caPem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3"
    })
    socket.setNoDelay(true)
    const pending: Array<(answer: unknown) => void> = []
    socket.on(
      "data",
      frameReader((payload) => {
        pending.shift()?.(JSON.parse(payload.toString("utf8")))
      })
    )
    socket.once("error", reject)
    socket.once("secureConnect", () =>
      resolve({
        request: (request) =>
          new Promise((r) => {
            pending.push(r)
            socket.write(frameOf(Buffer.from(JSON.stringify(request))))
          }),
        close: () => socket.destroy()
      })
    )
  })
