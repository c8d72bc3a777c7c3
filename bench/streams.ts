/**
 * The anchors: Node's own TLS 1.3 with mutual authentication (`requestCert: true,
 * rejectUnauthorized: true`, TLS 1.3 only, the same ECDSA P-256 certificates as our channel) and
 * plain TCP. Server and client sides speak the little protocol of `common.ts` over the stream.
 */
import * as Net from "node:net"
import type { PeerCertificate } from "node:tls"
import * as Tls from "node:tls"
import { BULK_CHUNK, DONE, ECHO, PING_BYTES, READY, SINK } from "./common.js"
import type { BenchIdentity, BenchPki } from "./pki.js"

export type StreamKind = "tls" | "tcp"

export interface StreamCounters {
  handshakes: number
  failures: number
  lastError: string
}

/** TLS options both sides share: TLS 1.3 only, our CA as the only trust anchor. */
export const tlsBase = (pki: BenchPki, identity: BenchIdentity) => ({
  key: identity.keyPem,
  cert: identity.certPem,
  ca: [pki.caPem],
  minVersion: "TLSv1.3" as const,
  maxVersion: "TLSv1.3" as const
})

/**
 * The client's identity check, the same one our channel makes (the peer is the handle we dialed):
 * the certificates name handles in SAN rfc822Name, not host names, so the default host check is
 * replaced by a check on the SAN email. The chain itself is verified by OpenSSL before this runs.
 */
export const expectHandle =
  (handle: string) =>
  (_host: string, cert: PeerCertificate): Error | undefined =>
    cert.subjectaltname === `email:${handle}` ? undefined : new Error(`the peer is not ${handle}`)

/** Server-side protocol on an established stream: READY, then ECHO or SINK as the client asks. */
const serveStream = (socket: Net.Socket): void => {
  socket.setNoDelay(true)
  socket.write(Uint8Array.of(READY))
  let state: "mode" | "header" | "sink" | "echo" = "mode"
  let header: Array<number> = []
  let remaining = 0
  const onBytes = (d: Buffer): void => {
    let i = 0
    if (state === "mode") {
      state = d[0] === ECHO ? "echo" : d[0] === SINK ? "header" : "mode"
      i = 1
    }
    if (state === "echo") {
      if (i < d.length) socket.write(i === 0 ? d : d.subarray(i))
      return
    }
    while (state === "header" && i < d.length) {
      header.push(d[i++]!)
      if (header.length === 8) {
        remaining = Number(Buffer.from(header).readBigUInt64BE(0))
        header = []
        state = "sink"
      }
    }
    if (state === "sink") {
      remaining -= d.length - i
      if (remaining <= 0) {
        state = "mode"
        socket.write(Uint8Array.of(DONE))
      }
    }
  }
  socket.on("data", onBytes)
}

/** Starts the server of `kind` on 127.0.0.1, port chosen by the OS. */
export const startStreamServer = (kind: StreamKind, pki: BenchPki, counters: StreamCounters): Promise<Net.Server> =>
  new Promise((resolve, reject) => {
    const failed = (e: Error) => {
      counters.failures++
      counters.lastError = e.message
    }
    const onSocket = (socket: Net.Socket) => {
      counters.handshakes++
      socket.on("error", failed)
      serveStream(socket)
    }
    const server =
      kind === "tls"
        ? Tls.createServer({ ...tlsBase(pki, pki.server), requestCert: true, rejectUnauthorized: true }).on(
            "secureConnection",
            onSocket
          )
        : Net.createServer({ noDelay: true }, onSocket)
    server.on("tlsClientError", failed)
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

/** Connects (TLS: full mutual-auth handshake) and waits for the server's READY. */
export const connectStream = (
  kind: StreamKind,
  port: number,
  pki: BenchPki,
  identity: BenchIdentity = pki.client,
  serverHandle: string = pki.server.handle
): Promise<Net.Socket> =>
  new Promise((resolve, reject) => {
    const socket =
      kind === "tls"
        ? Tls.connect({
            ...tlsBase(pki, identity),
            host: "127.0.0.1",
            port,
            checkServerIdentity: expectHandle(serverHandle)
          })
        : Net.connect({ host: "127.0.0.1", port, noDelay: true })
    socket.setNoDelay(true)
    const fail = (e: Error) => {
      socket.destroy()
      reject(e)
    }
    const onClose = () => fail(new Error("the server closed the connection before READY"))
    socket.once("error", fail)
    socket.once("close", onClose)
    socket.once("data", (d: Buffer) => {
      socket.off("error", fail)
      socket.off("close", onClose)
      socket.on("error", () => {})
      if (d.length !== 1 || d[0] !== READY) return fail(new Error("expected READY"))
      resolve(socket)
    })
  })

/** One full handshake: connect, handshake, READY, close (TLS: close_notify, then FIN). */
export const handshakeOnce = async (kind: StreamKind, port: number, pki: BenchPki): Promise<void> => {
  const socket = await connectStream(kind, port, pki)
  socket.end()
}

/** `concurrency` loops of sequential handshakes until `durationMs` passed. */
export const handshakes = async (
  kind: StreamKind,
  port: number,
  pki: BenchPki,
  concurrency: number,
  durationMs: number
): Promise<{ count: number; ms: number }> => {
  const start = performance.now()
  const deadline = start + durationMs
  let count = 0
  const worker = async () => {
    while (performance.now() < deadline) {
      await handshakeOnce(kind, port, pki)
      count++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { count, ms: performance.now() - start }
}

/** Ping-pong of 100-byte writes: round-trip times in microseconds. */
export const pingPong = async (
  kind: StreamKind,
  port: number,
  pki: BenchPki,
  warmup: number,
  iterations: number
): Promise<Array<number>> => {
  const socket = await connectStream(kind, port, pki)
  const payload = Buffer.alloc(PING_BYTES, 0x78)
  let waiting = 0
  let wake: () => void = () => {}
  socket.on("data", (d: Buffer) => {
    waiting -= d.length
    if (waiting <= 0) wake()
  })
  socket.write(Uint8Array.of(ECHO))
  const samples: Array<number> = []
  for (let i = 0; i < warmup + iterations; i++) {
    waiting = PING_BYTES
    const back = new Promise<void>((r) => {
      wake = r
    })
    const t0 = performance.now()
    socket.write(payload)
    await back
    const t1 = performance.now()
    if (i >= warmup) samples.push((t1 - t0) * 1000)
  }
  socket.end()
  return samples
}

/** Sends `totalBytes` in 64 KiB writes (respecting back-pressure); done when the server saw them all. */
export const bulk = async (
  kind: StreamKind,
  port: number,
  pki: BenchPki,
  totalBytes: number
): Promise<{ bytes: number; ms: number }> => {
  const socket = await connectStream(kind, port, pki)
  const chunk = Buffer.alloc(BULK_CHUNK, 7)
  const done = new Promise<void>((resolve, reject) =>
    socket.once("data", (d: Buffer) => (d[0] === DONE ? resolve() : reject(new Error("expected DONE"))))
  )
  const header = Buffer.alloc(9)
  header[0] = SINK
  header.writeBigUInt64BE(BigInt(totalBytes), 1)
  const start = performance.now()
  socket.write(header)
  await new Promise<void>((resolve) => {
    let sent = 0
    const pump = () => {
      while (sent < totalBytes) {
        sent += BULK_CHUNK
        if (!socket.write(chunk)) return void socket.once("drain", pump)
      }
      resolve()
    }
    pump()
  })
  await done
  const ms = performance.now() - start
  socket.end()
  return { bytes: totalBytes, ms }
}

/** Whether a TLS connection with this client identity / expected server handle is refused. */
export const tlsRefused = (port: number, pki: BenchPki, identity: BenchIdentity, serverHandle: string) =>
  connectStream("tls", port, pki, identity, serverHandle).then(
    (socket) => {
      socket.destroy()
      return undefined
    },
    (e: Error) => e.message
  )
