/**
 * A plain TCP relay on loopback, in the test process (issue 10 §1): it forwards bytes each way and, on
 * `end` from one side, calls `end()` on the other. `halfClose: false` (the default) is the common
 * relay, `client.pipe(upstream); upstream.pipe(client)` over default sockets, which also ends its own
 * side towards the sender of a FIN, as many NAT boxes and port forwarders do; `halfClose: true` keeps
 * the other direction open. An error on one side destroys both. `captured` holds what each
 * direction carried, per connection.
 */
import * as Net from "node:net"

export interface Relay {
  readonly port: number
  readonly captured: Array<{ readonly up: Array<Buffer>; readonly down: Array<Buffer> }>
  readonly close: () => Promise<void>
}

export const startRelay = (target: { host: string; port: number }, options: { halfClose?: boolean } = {}) =>
  new Promise<Relay>((resolve, reject) => {
    const allowHalfOpen = options.halfClose === true
    const sockets = new Set<Net.Socket>()
    const captured: Array<{ up: Array<Buffer>; down: Array<Buffer> }> = []
    const track = (s: Net.Socket) => {
      sockets.add(s)
      s.on("close", () => sockets.delete(s))
    }
    const server = Net.createServer({ allowHalfOpen }, (client) => {
      const record = { up: [] as Array<Buffer>, down: [] as Array<Buffer> }
      captured.push(record)
      const upstream = Net.connect({ host: target.host, port: target.port, allowHalfOpen })
      track(client)
      track(upstream)
      client.on("data", (chunk: Buffer) => record.up.push(chunk))
      upstream.on("data", (chunk: Buffer) => record.down.push(chunk))
      for (const [a, b] of [
        [client, upstream],
        [upstream, client]
      ] as const) {
        a.pipe(b)
        a.on("error", () => {
          a.destroy()
          b.destroy()
        })
        // With half-close both directions end on their own; Node then closes the socket (autoDestroy).
      }
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: (server.address() as Net.AddressInfo).port,
        captured,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })
