import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Scope } from "effect"
import { makeAddress } from "../../src/domain/brands.js"
import type { TcpConnection } from "../../src/layers/transport/TcpConnection.js"
import * as TcpTransport from "../../src/layers/transport/TcpTransport.js"
import { Transport } from "../../src/services/Transport.js"
import { decode, patternChunk, patternMismatch, readAll, text } from "./helpers.js"

const READ_LIMIT = 64 * 1024
const CHUNK = 64 * 1024
const TOTAL = 8 * 1024 * 1024
// Real sockets and real time: every test runs live, with the TCP layer provided.
const tcp = TcpTransport.layerWith({ readLimit: READ_LIMIT })

describe.each(["127.0.0.1", "::1"])("TcpTransport on %s", (host) => {
  it.scopedLive("echoes bytes both ways and reports both addresses", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress(host, 0))
      expect(listener.address.host).toBe(host)
      expect(listener.address.port).toBeGreaterThan(0)
      const server = yield* Effect.fork(
        Effect.scoped(
          Effect.gen(function* () {
            const conn = yield* listener.accept
            const got = yield* readAll(conn)
            yield* conn.write(text(`echo:${decode(got)}`))
            yield* conn.end
            return conn.remote
          })
        )
      )
      const client = yield* transport.dial(listener.address)
      expect(client.remote).toEqual(listener.address)
      expect(client.local.host).toBe(host)
      yield* client.write(text("hello "))
      yield* client.write(text("world"))
      yield* client.end
      expect(decode(yield* readAll(client))).toBe("echo:hello world")
      const seenByServer = yield* Fiber.join(server)
      expect(seenByServer).toEqual(client.local)
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("moves 8 MiB intact past a stalled then slow reader without unbounded buffering", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress(host, 0))
      const client = yield* transport.dial(listener.address)
      const server = yield* listener.accept
      let written = 0
      const writer = yield* Effect.fork(
        Effect.gen(function* () {
          while (written < TOTAL) {
            yield* client.write(patternChunk(written, CHUNK))
            written += CHUNK
          }
          yield* client.end
        })
      )
      // The reader has not read yet: the writer must stall (kernel buffers hold a few MiB at most)
      // and our side must not queue more than its bound. Bounded loop: wait until progress stops.
      let last = -1
      for (let i = 0; i < 100 && written !== last; i++) {
        last = written
        yield* Effect.sleep("30 millis")
      }
      expect(written).toBeLessThan(TOTAL)
      expect((server as TcpConnection).inbox.bytes).toBeLessThanOrEqual(READ_LIMIT + CHUNK)
      // Our side holds at most one write past Node's high-water mark, and the fast path refuses
      // (without building its bytes) while the writer waits for `drain`.
      const socket = (client as TcpConnection).socket
      expect(socket.writableLength).toBeGreaterThan(0)
      expect(socket.writableLength).toBeLessThanOrEqual(socket.writableHighWaterMark + CHUNK)
      let built = false
      expect(
        client.tryWrite?.(() => {
          built = true
          return patternChunk(0, 1)
        })
      ).toBe(false)
      expect(built).toBe(false)
      // Now read slowly (a pause every 32 chunks) and check every byte.
      let received = 0
      let reads = 0
      for (;;) {
        const chunk = yield* server.read
        if (chunk === null) break
        expect(patternMismatch(chunk, received)).toBe(-1)
        received += chunk.byteLength
        if (++reads % 32 === 0) yield* Effect.sleep("1 millis")
        expect((server as TcpConnection).inbox.bytes).toBeLessThanOrEqual(READ_LIMIT + CHUNK)
      }
      expect(received).toBe(TOTAL)
      yield* Fiber.join(writer)
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("a write over the high-water mark the kernel took at once does not hold the next one", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress(host, 0))
      const client = yield* transport.dial(listener.address)
      const server = yield* listener.accept
      const socket = (client as TcpConnection).socket
      // Record-shaped writes (header, body, tag) as the channel gives them; the same tick throughout.
      const parts = (at: number) => [
        patternChunk(at, 4),
        patternChunk(at + 4, CHUNK - 21),
        patternChunk(at + CHUNK - 17, 17)
      ]
      expect(client.tryWrite?.(() => parts(0))).toBe(true)
      // A fresh loopback connection takes 64 KiB at once: Node still owes a `drain` (next tick) but
      // holds nothing, so the next record goes out at once instead of waiting for that tick.
      expect(socket.writableNeedDrain).toBe(true)
      expect(socket.writableLength).toBe(0)
      expect(client.tryWrite?.(() => parts(CHUNK))).toBe(true)
      yield* client.write(parts(2 * CHUNK))
      yield* client.end
      const got = yield* readAll(server)
      expect(got.byteLength).toBe(3 * CHUNK)
      expect(patternMismatch(got, 0)).toBe(-1)
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("half-close: reads continue after our end, and the peer sees end of stream", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress(host, 0))
      const client = yield* transport.dial(listener.address)
      const server = yield* listener.accept
      yield* client.write(text("ping"))
      yield* client.end
      expect(decode(yield* readAll(server))).toBe("ping")
      // The server can still talk after the client's FIN.
      yield* server.write(text("pong"))
      yield* server.end
      expect(decode(yield* readAll(client))).toBe("pong")
      expect(yield* client.read).toBeNull()
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("destroy: the peer sees Reset (or end of stream), local use fails with Reset", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress(host, 0))
      const client = yield* transport.dial(listener.address)
      const server = yield* listener.accept
      yield* client.write(text("x"))
      expect(decode((yield* server.read)!)).toBe("x")
      const pendingRead = yield* Effect.fork(Effect.either(server.read))
      yield* client.destroy
      yield* client.destroy // idempotent
      const seen = yield* Fiber.join(pendingRead)
      if (Either.isLeft(seen)) expect(seen.left.reason).toBe("Reset")
      else expect(seen.right).toBeNull()
      const local = yield* Effect.either(client.read)
      expect(Either.isLeft(local) && local.left.reason).toBe("Reset")
      const write = yield* Effect.either(client.write(text("y")))
      expect(Either.isLeft(write) && write.left.reason).toBe("Reset")
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("writing after end fails with Io", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress(host, 0))
      const client = yield* transport.dial(listener.address)
      yield* client.end
      const result = yield* Effect.either(client.write(text("late")))
      expect(Either.isLeft(result) && result.left.reason).toBe("Io")
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("dial to a closed port is ConnectRefused", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const scope = yield* Scope.make()
      const listener = yield* Scope.extend(transport.listen(makeAddress(host, 0)), scope)
      yield* Scope.close(scope, Exit.void)
      const result = yield* Effect.either(transport.dial(listener.address))
      expect(Either.isLeft(result) && result.left.reason).toBe("ConnectRefused")
      expect(Either.isLeft(result) && result.left.message).toContain("refused")
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("a second listener on the same address is AddressInUse", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress(host, 0))
      const result = yield* Effect.either(transport.listen(listener.address))
      expect(Either.isLeft(result) && result.left.reason).toBe("AddressInUse")
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("closing the dial scope after end is a clean close for the peer", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress(host, 0))
      const server = yield* Effect.fork(Effect.scoped(Effect.flatMap(listener.accept, readAll)))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const client = yield* transport.dial(listener.address)
          yield* client.write(text("bye"))
          yield* client.end
        })
      )
      expect(decode(yield* Fiber.join(server))).toBe("bye")
    }).pipe(Effect.provide(tcp))
  )
})

/** Reads until `n` bytes have arrived (the peer's writes may come as one chunk or several). */
const readUpTo = (conn: { readonly read: Effect.Effect<Uint8Array | null, unknown> }, n: number) =>
  Effect.gen(function* () {
    const parts: Array<Uint8Array> = []
    let total = 0
    while (total < n) {
      const chunk = yield* conn.read
      if (chunk === null) break
      parts.push(chunk)
      total += chunk.length
    }
    const out = new Uint8Array(total)
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  })

describe("TcpTransport dialing", () => {
  it.scopedLive("dials a host name", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress("127.0.0.1", 0))
      const client = yield* transport.dial(makeAddress("localhost", listener.address.port))
      const server = yield* listener.accept
      yield* client.write(text("by name"))
      expect(decode((yield* server.read)!)).toBe("by name")
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("an IPv6 listener does not take IPv4 connections", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress("::1", 0))
      const result = yield* Effect.either(transport.dial(makeAddress("127.0.0.1", listener.address.port)))
      expect(Either.isLeft(result) && result.left.reason).toBe("ConnectRefused")
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("an interrupted read loses nothing and leaves the connection readable, by another fiber too", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress("127.0.0.1", 0))
      const client = yield* transport.dial(listener.address)
      const server = yield* listener.accept
      // Parked, interrupted, then the bytes arrive: the next read (another fiber) gets them in order.
      const parked = yield* Effect.fork(server.read)
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(parked)
      yield* client.write(text("first"))
      const next = yield* Effect.fork(server.read)
      expect(decode((yield* Fiber.join(next))!)).toBe("first")
      // Interrupted again, and this time the bytes arrive before anyone reads: nothing is handed to the
      // interrupted reader for good.
      const again = yield* Effect.fork(server.read)
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(again)
      yield* client.write(text("second"))
      yield* Effect.sleep("20 millis")
      yield* client.write(text("third"))
      yield* Effect.sleep("20 millis")
      expect(decode((yield* readUpTo(server, 11))!)).toBe("secondthird")
      // The same fiber reading again after its own read was interrupted is no concurrent read either.
      const own = yield* Effect.fork(
        Effect.gen(function* () {
          yield* Effect.exit(Effect.timeout(Effect.interruptible(server.read), "10 millis"))
          return yield* server.read
        })
      )
      yield* Effect.sleep("50 millis")
      yield* client.write(text("fourth"))
      expect(decode((yield* Fiber.join(own))!)).toBe("fourth")
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("two fibers reading at once is still a defect", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress("127.0.0.1", 0))
      yield* transport.dial(listener.address)
      const server = yield* listener.accept
      const first = yield* Effect.fork(server.read)
      yield* Effect.yieldNow()
      const second = yield* Effect.exit(server.read)
      expect(Exit.isFailure(second) && Exit.causeOption(second).pipe((c) => String(c))).toMatch(/concurrently/)
      yield* Fiber.interrupt(first)
    }).pipe(Effect.provide(tcp))
  )

  it.scopedLive("an interrupted accept leaves the listener usable", () =>
    Effect.gen(function* () {
      const transport = yield* Transport
      const listener = yield* transport.listen(makeAddress("127.0.0.1", 0))
      const waiting = yield* Effect.fork(Effect.scoped(listener.accept))
      yield* Fiber.interrupt(waiting)
      const client = yield* transport.dial(listener.address)
      const server = yield* listener.accept
      yield* client.write(text("still here"))
      expect(decode((yield* server.read)!)).toBe("still here")
    }).pipe(Effect.provide(tcp))
  )
})
