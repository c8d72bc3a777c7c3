import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, Fiber, Option, Scope, TestClock } from "effect"
import { makeAddress } from "../../src/domain/brands.js"
import type { Connection } from "../../src/services/Transport.js"
import * as SimNetwork from "../support/SimNetwork.js"
import { decode, patternChunk, patternMismatch, readAll, text } from "./helpers.js"

const A = "2001:db8::a"
const B = "2001:db8::b"
const C = "192.0.2.3"
const D = "2001:db8::d"

/** Lets every runnable fiber run (bounded), so a "not yet" check cannot pass by mere scheduling. */
const flush = Effect.repeatN(Effect.yieldNow(), 20)

const isPending = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.map(Effect.zipRight(flush, Fiber.poll(fiber)), Option.isNone)

/** A node `a` listening on B:4605 with one established connection from A; both ends returned. */
const connected = (network: SimNetwork.SimNetwork, rtt = 0) =>
  Effect.gen(function* () {
    const listener = yield* network.transportFor(B).listen(makeAddress(B, 4605))
    const dialing = yield* Effect.fork(network.transportFor(A).dial(listener.address))
    if (rtt > 0) yield* TestClock.adjust(rtt)
    const client = yield* Fiber.join(dialing)
    const server = yield* listener.accept
    return { client, server, listener }
  })

describe("SimNetwork", () => {
  it.scoped("delivers bytes in order both ways, with half-close, at zero latency", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make()
      const { client, server } = yield* connected(network)
      expect(client.remote).toEqual(makeAddress(B, 4605))
      expect(server.remote).toEqual(client.local)
      expect(client.local.host).toBe(A)
      yield* client.write(text("one "))
      yield* client.write(text("two"))
      yield* client.end
      expect(decode(yield* readAll(server))).toBe("one two")
      yield* server.write(text("after your FIN"))
      yield* server.end
      expect(decode(yield* readAll(client))).toBe("after your FIN")
      yield* flush
      expect(network.trace().some((e) => e.endsWith("close #1"))).toBe(true)
    })
  )

  it.scoped("latency: nothing arrives before TestClock.adjust", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make({ latency: "100 millis" })
      const listener = yield* network.transportFor(B).listen(makeAddress(B, 0))
      const dialing = yield* Effect.fork(network.transportFor(A).dial(listener.address))
      yield* TestClock.adjust("199 millis")
      expect(yield* isPending(dialing)).toBe(true)
      yield* TestClock.adjust("1 millis")
      const client = yield* Fiber.join(dialing)
      const server = yield* listener.accept
      yield* client.write(text("hi"))
      const reading = yield* Effect.fork(server.read)
      yield* TestClock.adjust("99 millis")
      expect(yield* isPending(reading)).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(decode((yield* Fiber.join(reading))!)).toBe("hi")
    })
  )

  it.scoped("jitter never reorders a stream", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make({ latency: "10 millis", jitter: "50 millis", seed: 3 })
      const { client, server } = yield* connected(network, 20)
      const reading = yield* Effect.fork(readAll(server))
      for (let i = 0; i < 20; i++) yield* client.write(text(`${i},`))
      yield* client.end
      yield* TestClock.adjust("2 seconds")
      expect(decode(yield* Fiber.join(reading))).toBe(Array.from({ length: 20 }, (_, i) => `${i},`).join(""))
    })
  )

  it.scoped("refuses a port with no listener and cannot reach an unknown host", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make()
      network.transportFor(B)
      const alice = network.transportFor(A)
      const refused = yield* Effect.either(alice.dial(makeAddress(B, 4605)))
      expect(Either.isLeft(refused) && refused.left.reason).toBe("ConnectRefused")
      const unknown = yield* Effect.either(alice.dial(makeAddress("2001:db8::99", 4605)))
      expect(Either.isLeft(unknown) && unknown.left.reason).toBe("Unreachable")
      network.transportFor(C)
      const otherFamily = yield* Effect.either(alice.dial(makeAddress(C, 4605)))
      expect(Either.isLeft(otherFamily) && otherFamily.left.reason).toBe("Unreachable")
    })
  )

  it.scoped("binding: same address twice is AddressInUse, a foreign address is refused, :: accepts", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make()
      const bob = network.transportFor([B, C])
      yield* bob.listen(makeAddress(B, 4605))
      const again = yield* Effect.either(bob.listen(makeAddress(B, 4605)))
      expect(Either.isLeft(again) && again.left.reason).toBe("AddressInUse")
      const foreign = yield* Effect.either(bob.listen(makeAddress(A, 4605)))
      expect(Either.isLeft(foreign) && foreign.left.reason).toBe("Io")
      const wild = yield* bob.listen(makeAddress("0.0.0.0", 4605))
      const carol = network.transportFor("192.0.2.7")
      yield* carol.dial(makeAddress(C, 4605))
      const accepted = yield* wild.accept
      expect(accepted.local).toEqual(makeAddress(C, 4605))
      expect(accepted.remote.host).toBe("192.0.2.7")
    })
  )

  it.scoped("a partition stalls traffic and new dials until heal, then delivery resumes", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make({ latency: "10 millis" })
      const { client, server, listener } = yield* connected(network, 20)
      yield* network.partition(A, B)
      yield* client.write(text("held"))
      const reading = yield* Effect.fork(server.read)
      yield* TestClock.adjust("1 minute")
      expect(yield* isPending(reading)).toBe(true)
      const dial = yield* Effect.either(network.transportFor(A).dial(listener.address))
      expect(Either.isLeft(dial) && dial.left.reason).toBe("Unreachable")
      yield* network.heal(A, B)
      yield* TestClock.adjust("10 millis")
      expect(decode((yield* Fiber.join(reading))!)).toBe("held")
      expect(network.trace().filter((e) => / (partition|heal) /.test(e))).toHaveLength(2)
    })
  )

  it.scoped("partitionDial: hang leaves the timeout to the caller", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make({ partitionDial: "hang" })
      const listener = yield* network.transportFor(B).listen(makeAddress(B, 4605))
      yield* network.partition(A, B)
      const dialing = yield* Effect.fork(Effect.timeout(network.transportFor(A).dial(listener.address), "5 seconds"))
      yield* TestClock.adjust("5 seconds")
      const exit = yield* Fiber.await(dialing)
      expect(Exit.isFailure(exit)).toBe(true)
    })
  )

  it.scoped("partitionDial: hang, with the port's timeout the dial fails with ConnectTimeout", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make({ partitionDial: "hang" })
      const listener = yield* network.transportFor(B).listen(makeAddress(B, 4605))
      yield* network.partition(A, B)
      const dialing = yield* Effect.fork(
        Effect.either(network.transportFor(A).dial(listener.address, Duration.seconds(3)))
      )
      yield* TestClock.adjust("2 seconds")
      expect(yield* isPending(dialing)).toBe(true)
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(dialing)
      expect(Either.isLeft(result) && result.left.reason).toBe("ConnectTimeout")
    })
  )

  it.scoped("dropConnections resets both ends of every connection of that host at once", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make({ latency: "10 millis" })
      const { client, server } = yield* connected(network, 20)
      const waiting = yield* Effect.fork(Effect.either(client.read))
      yield* network.dropConnections(B)
      const seen = yield* Fiber.join(waiting)
      expect(Either.isLeft(seen) && seen.left.reason).toBe("Reset")
      const serverRead = yield* Effect.either(server.read)
      expect(Either.isLeft(serverRead) && serverRead.left.reason).toBe("Reset")
      const write = yield* Effect.either(client.write(text("x")))
      expect(Either.isLeft(write) && write.left.reason).toBe("Reset")
    })
  )

  it.scoped("destroy: the peer sees Reset one latency later; local use fails", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make({ latency: "10 millis" })
      const { client, server } = yield* connected(network, 20)
      const waiting = yield* Effect.fork(Effect.either(server.read))
      yield* client.destroy
      expect(yield* isPending(waiting)).toBe(true)
      yield* TestClock.adjust("10 millis")
      const seen = yield* Fiber.join(waiting)
      expect(Either.isLeft(seen) && seen.left.reason).toBe("Reset")
      const local = yield* Effect.either(client.read)
      expect(Either.isLeft(local) && local.left.reason).toBe("Reset")
    })
  )

  it.scoped("bounded buffering: a writer stalls at the window until the reader pulls", () =>
    Effect.gen(function* () {
      const window = 16 * 1024
      const total = 256 * 1024
      const network = yield* SimNetwork.make({ window })
      const { client, server } = yield* connected(network)
      let written = 0
      const writer = yield* Effect.fork(
        Effect.gen(function* () {
          while (written < total) {
            yield* client.write(patternChunk(written, 4096))
            written += 4096
          }
          yield* client.end
        })
      )
      yield* flush
      expect(written).toBeLessThanOrEqual(window)
      expect(yield* isPending(writer)).toBe(true)
      const got = yield* readAll(server)
      expect(got.byteLength).toBe(total)
      expect(patternMismatch(got, 0)).toBe(-1)
      yield* Fiber.join(writer)
    })
  )

  it.scoped("scope release after end is a clean close; data arriving later resets the sender", () =>
    Effect.gen(function* () {
      const network = yield* SimNetwork.make()
      const listener = yield* network.transportFor(B).listen(makeAddress(B, 4605))
      const scope = yield* Scope.make()
      const client = yield* Scope.extend(network.transportFor(A).dial(listener.address), scope)
      const server = yield* listener.accept
      yield* client.write(text("bye"))
      yield* client.end
      yield* Scope.close(scope, Exit.void)
      expect(decode(yield* readAll(server))).toBe("bye")
      yield* server.write(text("too late"))
      yield* flush
      const after = yield* Effect.either(server.write(text("again")))
      expect(Either.isLeft(after) && after.left.reason).toBe("Reset")
    })
  )

  it.scoped("same seed, same trace", () =>
    Effect.gen(function* () {
      const scenario = (seed: number) =>
        Effect.scoped(
          Effect.gen(function* () {
            const network = yield* SimNetwork.make({ latency: "5 millis", jitter: "20 millis", seed })
            const listener = yield* network.transportFor(B).listen(makeAddress(B, 4605))
            const server = yield* Effect.fork(
              Effect.forever(
                Effect.flatMap(listener.accept, (conn: Connection) =>
                  Effect.fork(
                    Effect.zipRight(
                      Effect.flatMap(readAll(conn), (b) => conn.write(b)),
                      conn.end
                    )
                  )
                )
              ).pipe(Effect.scoped)
            )
            const clients = yield* Effect.forEach(
              [0, 1, 2],
              (i) =>
                Effect.fork(
                  Effect.gen(function* () {
                    const conn = yield* network.transportFor(i === 2 ? D : A).dial(listener.address)
                    for (let k = 0; k < 5; k++) yield* conn.write(text(`${i}:${k};`))
                    yield* conn.end
                    return decode(yield* readAll(conn))
                  })
                ),
              { concurrency: "unbounded" }
            )
            yield* TestClock.adjust("5 seconds")
            const echoed = yield* Effect.forEach(clients, Fiber.join)
            yield* Fiber.interrupt(server)
            return { echoed, trace: network.trace() }
          })
        )
      const first = yield* scenario(42)
      const second = yield* scenario(42)
      expect(first.echoed).toEqual(["0:0;0:1;0:2;0:3;0:4;", "1:0;1:1;1:2;1:3;1:4;", "2:0;2:1;2:2;2:3;2:4;"])
      expect(first.trace.length).toBeGreaterThan(10)
      expect(second.trace).toEqual(first.trace)
      // The seed matters: another one moves the jittered deliveries.
      expect((yield* scenario(7)).trace).not.toEqual(first.trace)
    })
  )
})
