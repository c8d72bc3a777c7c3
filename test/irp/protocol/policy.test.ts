/** The pure pieces of the IRP server's policy: the access table, token buckets, rate-limit source keys. */
import { describe, expect, it } from "vitest"
import { Handle, makeAddress } from "../../../src/domain/brands.js"
import { authorize, type Caller } from "../../../src/domain/irp/access.js"
import type { IrpRequestTag } from "../../../src/domain/irp/messages.js"
import { sourceKey, takeTokens } from "../../../src/domain/irp/rateLimit.js"

const source = makeAddress("192.0.2.1", 50_000)
const anonymous: Caller = { _tag: "Anonymous", source }
const holder: Caller = {
  _tag: "Holder",
  source,
  handle: Handle.make("alice@example.org"),
  serial: "ab" as never,
  notAfter: Date.now() + 1e9
}
const ALL: ReadonlyArray<IrpRequestTag> = [
  "irp.Enroll",
  "irp.Renew",
  "irp.Register",
  "irp.Deregister",
  "irp.Lookup",
  "irp.Status",
  "irp.Crl",
  "irp.Revoke",
  "irp.Watch",
  "irp.Unwatch",
  "irp.Ping",
  "irp.DomainInfo"
]

describe("access table (PROTOCOL.md §17)", () => {
  const allowed = (caller: Caller, allowAnonymousLookup = false) =>
    ALL.filter((tag) => authorize(tag, caller, { allowAnonymousLookup }) === undefined)

  it("anonymous: Enroll, Status, Crl, Ping, DomainInfo; Lookup only when the policy says so", () => {
    expect(allowed(anonymous)).toEqual(["irp.Enroll", "irp.Status", "irp.Crl", "irp.Ping", "irp.DomainInfo"])
    expect(allowed(anonymous, true)).toEqual([
      "irp.Enroll",
      "irp.Lookup",
      "irp.Status",
      "irp.Crl",
      "irp.Ping",
      "irp.DomainInfo"
    ])
    expect(authorize("irp.Register", anonymous, { allowAnonymousLookup: true })?.code).toBe("unauthorized")
  })

  it("a holder: everything but Enroll, which is forbidden", () => {
    expect(allowed(holder)).toEqual(ALL.filter((t) => t !== "irp.Enroll"))
    expect(authorize("irp.Enroll", holder, { allowAnonymousLookup: false })?.code).toBe("forbidden")
  })
})

describe("token bucket", () => {
  const policy = { burst: 3, perSecond: 2 }
  it("starts full, refuses past the burst with the wait, refills with time, never above the burst", () => {
    let t = takeTokens(undefined, policy, 0, 1)
    t = takeTokens(t.bucket, policy, 0, 1)
    t = takeTokens(t.bucket, policy, 0, 1)
    expect(t.allowed).toBe(true)
    const refused = takeTokens(t.bucket, policy, 0, 1)
    expect([refused.allowed, refused.retryAfterMs]).toEqual([false, 500])
    expect(takeTokens(refused.bucket, policy, 499, 1).allowed).toBe(false)
    expect(takeTokens(refused.bucket, policy, 500, 1).allowed).toBe(true)
    const later = takeTokens(refused.bucket, policy, 3_600_000, 3)
    expect([later.allowed, later.bucket.tokens]).toEqual([true, 0])
  })

  it("a request dearer than the burst waits for a full bucket, not forever", () => {
    const t = takeTokens({ tokens: 0, at: 0 }, { burst: 5, perSecond: 1 }, 0, 10)
    expect([t.allowed, t.retryAfterMs]).toEqual([false, 5000])
  })

  it("a clock going backwards adds nothing", () => {
    const t = takeTokens({ tokens: 0, at: 1000 }, policy, 0, 1)
    expect(t.allowed).toBe(false)
  })
})

describe("rate-limit source keys", () => {
  it("IPv4 by address, IPv6 by /64, mapped IPv4 as IPv4, zones and brackets ignored", () => {
    expect(sourceKey("192.0.2.1")).toBe("ip4:192.0.2.1")
    expect(sourceKey("::ffff:192.0.2.1")).toBe("ip4:192.0.2.1")
    expect(sourceKey("::FFFF:c000:201")).toBe("ip4:192.0.2.1")
    expect(sourceKey("2001:db8:1:2:3:4:5:6")).toBe("ip6:2001:db8:1:2::/64")
    expect(sourceKey("2001:db8:1:2::9")).toBe(sourceKey("2001:0db8:0001:0002:ffff::1"))
    expect(sourceKey("[fe80::1%eth0]")).toBe("ip6:fe80:0:0:0::/64")
    expect(sourceKey("::1")).toBe("ip6:0:0:0:0::/64")
    expect(sourceKey("2001:db8::1.2.3.4")).toBe("ip6:2001:db8:0:0::/64")
    expect(sourceKey("1:2:3:4:5:6:7:8:9")).toBe("host:1:2:3:4:5:6:7:8:9")
    expect(sourceKey("1::2::3")).toBe("host:1::2::3")
  })
})
