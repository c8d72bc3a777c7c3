/**
 * Which addresses an agent registers for its listeners (hostAddresses.ts).
 */
import { describe, expect, it } from "vitest"
import { formatAddress, makeAddress } from "../../../src/domain/brands.js"
import { advertisedAddresses, type InterfaceTable, scopeOf } from "../../../src/layers/agent/irp/hostAddresses.js"

const wildcards = [makeAddress("::", 4605), makeAddress("0.0.0.0", 4605)]
const shown = (table: InterfaceTable, listen = wildcards) => advertisedAddresses(listen, table).map(formatAddress)
const iface = (address: string, internal = false) => ({
  address,
  family: address.includes(":") ? "IPv6" : "IPv4",
  internal
})
const lo = [iface("127.0.0.1", true), iface("::1", true)]

describe("advertisedAddresses", () => {
  it("wildcards become the host's usable addresses, IPv6 first, global before private", () => {
    const table = {
      lo,
      eth0: [iface("10.1.2.3"), iface("fd00::2"), iface("fe80::1"), iface("2001:db8::7"), iface("198.51.100.4")],
      wlan0: [iface("169.254.3.3"), iface("ff02::1")]
    }
    expect(shown(table)).toEqual(["[2001:db8::7]:4605", "[fd00::2]:4605", "198.51.100.4:4605", "10.1.2.3:4605"])
  })

  it("each wildcard only stands for its own family", () => {
    const table = { lo, eth0: [iface("2001:db8::7"), iface("198.51.100.4")] }
    expect(shown(table, [makeAddress("::", 5000)])).toEqual(["[2001:db8::7]:5000"])
    expect(shown(table, [makeAddress("0.0.0.0", 5001)])).toEqual(["198.51.100.4:5001"])
  })

  it("loopback only when nothing else is usable, and then for both families", () => {
    expect(shown({ lo, eth0: [iface("fe80::1")] })).toEqual(["[::1]:4605", "127.0.0.1:4605"])
    expect(shown({ lo, eth0: [iface("192.0.2.1")] })).toEqual(["192.0.2.1:4605"])
  })

  it("a listener on a specific address is registered as it is, once", () => {
    const listen = [makeAddress("::1", 41000), makeAddress("::1", 41000), makeAddress("127.0.0.1", 41001)]
    expect(shown({ lo }, listen)).toEqual(["[::1]:41000", "127.0.0.1:41001"])
  })

  it("at most 8 addresses, IPv4 keeping two places", () => {
    const v6 = Array.from({ length: 10 }, (_, i) => iface(`2001:db8::${i + 1}`))
    const table = { lo, eth0: [...v6, iface("198.51.100.1"), iface("198.51.100.2"), iface("198.51.100.3")] }
    const out = shown(table)
    expect(out).toHaveLength(8)
    expect(out.filter((a) => !a.startsWith("["))).toEqual(["198.51.100.1:4605", "198.51.100.2:4605"])
  })

  it("scopes", () => {
    expect(scopeOf("2a00:1450::1")).toBe(0)
    expect(scopeOf("fd12::1")).toBe(1)
    expect(scopeOf("fe80::1")).toBeUndefined()
    expect(scopeOf("fe80::1%eth0")).toBeUndefined()
    expect(scopeOf("::ffff:1.2.3.4")).toBeUndefined()
    expect(scopeOf("::1")).toBe(2)
    expect(scopeOf("100.64.0.1")).toBe(1)
    expect(scopeOf("172.20.0.1")).toBe(1)
    expect(scopeOf("172.32.0.1")).toBe(0)
    expect(scopeOf("224.0.0.1")).toBeUndefined()
    expect(scopeOf("169.254.1.1")).toBeUndefined()
    expect(scopeOf("localhost")).toBeUndefined()
  })
})
