/**
 * The anchor of `file_tls_ratio` (issue 15): the same copy as `Agent.sendFile`, done the way `scp`-like
 * tools do it over Node's own TLS 1.3 with mutual authentication (the bench PKI's ECDSA P-256
 * certificates, TLS 1.3 only, `streams.ts`'s options), between the same two processes.
 *
 * Sender (Alice's process): after the handshake, an 8-byte size, then the file streamed from disk
 * (`fs.createReadStream`, piped into the socket with its back-pressure) with SHA-256 over every chunk
 * as it is read, then the 32-byte digest. Receiver (Bob's process): writes every byte into a partial
 * file as it arrives (`fs.createWriteStream`, pausing the socket when the disk lags) and hashes it,
 * then flushes, `fsync`s, compares the digests, renames the file into Bob's downloads directory and
 * answers one byte (1: placed, 0: digest mismatch). The time runs from the handshake's end to that
 * answer: our figure runs from `sendFile` on an established session to `<FileAck>`.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { join } from "node:path"
import * as Tls from "node:tls"
import type { BenchPki } from "./pki.js"
import { expectHandle, tlsBase } from "./streams.js"

const DIGEST_BYTES = 32

/** Bob's side: a TLS 1.3 server that receives one file per connection into `dir`. */
export const startTlsCopyServer = (pki: BenchPki, dir: string): Promise<Tls.Server> =>
  new Promise((resolve, reject) => {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    let copies = 0
    const server = Tls.createServer({ ...tlsBase(pki, pki.server), requestCert: true, rejectUnauthorized: true }, (s) =>
      receive(s, dir, ++copies)
    )
    server.on("tlsClientError", () => {})
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve(server))
  })

const receive = (socket: Tls.TLSSocket, dir: string, n: number): void => {
  const partial = join(dir, `.tls-copy-${n}`)
  const fd = fs.openSync(partial, "w", 0o600)
  const out = fs.createWriteStream(partial, { fd, autoClose: false, highWaterMark: 1024 * 1024 })
  const hash = createHash("sha256")
  let header = Buffer.alloc(0)
  let size = -1
  let received = 0
  let digest = Buffer.alloc(0)
  socket.on("error", () => {})
  const finish = () => {
    out.end(() => {
      fs.fsync(fd, (e) => {
        fs.closeSync(fd)
        const ok = e === null && hash.digest().equals(digest)
        if (ok) fs.renameSync(partial, join(dir, `tls-copy-${n}.bin`))
        else fs.rmSync(partial, { force: true })
        socket.end(Uint8Array.of(ok ? 1 : 0))
      })
    })
  }
  socket.on("data", (d: Buffer) => {
    let chunk = d
    if (size < 0) {
      header = Buffer.concat([header, chunk])
      if (header.length < 8) return
      size = Number(header.readBigUInt64BE(0))
      chunk = header.subarray(8)
    }
    const body = Math.min(chunk.length, size - received)
    if (body > 0) {
      const bytes = chunk.subarray(0, body)
      hash.update(bytes)
      received += body
      if (!out.write(bytes)) {
        socket.pause()
        out.once("drain", () => socket.resume())
      }
    }
    if (body < chunk.length) {
      digest = Buffer.concat([digest, chunk.subarray(body)])
      if (digest.length >= DIGEST_BYTES) finish()
    }
  })
}

/** Alice's side: copies `file` (`bytes` long) to the server on `port`; the time from handshake to answer. */
export const tlsCopy = (port: number, pki: BenchPki, file: string, bytes: number): Promise<{ ms: number }> =>
  new Promise((resolve, reject) => {
    const socket = Tls.connect({
      ...tlsBase(pki, pki.client),
      host: "127.0.0.1",
      port,
      checkServerIdentity: expectHandle(pki.server.handle)
    })
    socket.once("error", reject)
    socket.once("secureConnect", () => {
      const start = performance.now()
      const header = Buffer.alloc(8)
      header.writeBigUInt64BE(BigInt(bytes))
      socket.write(header)
      const hash = createHash("sha256")
      const input = fs.createReadStream(file, { highWaterMark: 1024 * 1024 })
      input.on("data", (chunk) => hash.update(chunk))
      input.once("error", reject)
      input.once("end", () => socket.write(hash.digest()))
      input.pipe(socket, { end: false })
      socket.once("data", (d: Buffer) => {
        const ms = performance.now() - start
        socket.destroy()
        if (d[0] === 1) resolve({ ms })
        else reject(new Error("the TLS copy arrived with another SHA-256"))
      })
    })
  })
