/**
 * What `<Registered>` says of the connection's source (PROTOCOL.md §17.5.5): the server remembers each
 * connection's observed address and the host keys it has computed (issue 15); the answers must be those
 * of `canonicalSource` and the domain's `natSuspected`, on the first request of a connection and later.
 */
import { describe, expect, it } from "@effect/vitest"
import { type Address, makeAddress } from "../../../src/domain/brands.js"
import { natSuspected } from "../../../src/domain/irp/registry.js"
import { canonicalSource, registeredFrom } from "../../../src/layers/irp/server/handlers.js"

const sources = [
  makeAddress("192.0.2.10", 51234),
  makeAddress("::ffff:192.0.2.10", 51234),
  makeAddress("::FFFF:192.0.2.10", 1),
  makeAddress("2001:DB8::5", 1),
  makeAddress("2001:db8:0:0:0:0:0:5", 2),
  makeAddress("fe80::1%eth0", 3),
  makeAddress("203.0.113.9", 4605),
  makeAddress("127.0.0.1", 50000)
]
const lists: ReadonlyArray<readonly [Address, ...Array<Address>]> = [
  [makeAddress("192.0.2.10", 4605)],
  [makeAddress("192.0.2.1", 4605), makeAddress("2001:db8::5", 4605)],
  [makeAddress("[2001:db8::5]", 4605)],
  [makeAddress("fe80::1", 4605)],
  [makeAddress("node.example.org.", 4605), makeAddress("::ffff:203.0.113.9", 4605)],
  [makeAddress("NODE.example.org", 4605)]
]

describe("registeredFrom", () => {
  it("answers as canonicalSource and natSuspected do, for every source and list, remembered or not", () => {
    for (let round = 0; round < 2; round++)
      for (const source of sources)
        for (const addresses of lists) {
          const observed = canonicalSource(source)
          expect(registeredFrom(source, addresses)).toEqual({
            observed,
            natSuspected: natSuspected({ addresses, observed })
          })
        }
  })
  it("remembers the observed address per connection source", () => {
    const source = makeAddress("::ffff:198.51.100.7", 40000)
    const first = registeredFrom(source, lists[0]!)
    expect(registeredFrom(source, lists[1]!).observed).toBe(first.observed)
    expect(first.observed).toEqual({ host: "198.51.100.7", port: 40000 })
  })
})
