/**
 * Which domain's IRP a public certificate names (PROTOCOL.md §22.2.5): exactly one dNSName `irp.X`, X a
 * domain name as §21.1 writes it; and the access table's checks on a federation caller's requests.
 */
import { describe, expect, it } from "vitest"
import { Handle, makeAddress } from "../../../src/domain/brands.js"
import { authorize, authorizeFederated, callerName } from "../../../src/domain/irp/access.js"
import { federationDomainOf } from "../../../src/layers/irp/server/federationCallers.js"

const ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV" as never
const caller = { _tag: "Federation" as const, source: makeAddress("192.0.2.7", 4604), domain: "other.net", notAfter: 0 }

describe("federation callers", () => {
  it("take the one irp.X of the leaf's dNSNames", () => {
    expect(federationDomainOf(["irp.other.net"])).toBe("other.net")
    expect(federationDomainOf(["other.net", "irp.other.net", "www.other.net"])).toBe("other.net")
    expect(federationDomainOf(["other.net"])).toEqual({ problem: "it names no IRP (a dNSName irp.<domain>)" })
    expect(federationDomainOf(["irp.a.net", "irp.b.net"])).toEqual({
      problem: "it names 2 IRPs (irp.a.net, irp.b.net), not one"
    })
    // Not a domain name as §21.1 writes it: one label, upper case, a wildcard.
    expect(typeof federationDomainOf(["irp.localhost"])).toBe("object")
    expect(typeof federationDomainOf(["irp.Other.NET"])).toBe("object")
    expect(typeof federationDomainOf(["irp.*.other.net"])).toBe("object")
  })

  it("may send only the six requests of §22.2.5, about our domain, when our policy accepts theirs", () => {
    const open = { mode: "open" as const, domains: [] }
    for (const tag of ["irp.DomainInfo", "irp.Lookup", "irp.Status", "irp.Watch", "irp.Unwatch", "irp.Ping"] as const)
      expect(authorize(tag, caller, { allowAnonymousLookup: false })).toBeUndefined()
    for (const tag of ["irp.Enroll", "irp.Renew", "irp.Register", "irp.Deregister", "irp.Revoke", "irp.Crl"] as const)
      expect(authorize(tag, caller, { allowAnonymousLookup: false })?.code).toBe("forbidden")
    const lookup = (h: string) => ({ _tag: "irp.Lookup" as const, id: ID, handle: Handle.make(h) })
    expect(authorizeFederated(lookup("alice@example.org"), caller, "example.org", open)).toBeUndefined()
    expect(authorizeFederated(lookup("carol@third.net"), caller, "example.org", open)?.code).toBe("forbidden")
    expect(
      authorizeFederated(lookup("alice@example.org"), caller, "example.org", { mode: "allow", domains: ["third.net"] })
    ).toEqual({ code: "federation_refused", message: "example.org does not accept federation from other.net." })
    expect(
      authorizeFederated(lookup("alice@example.org"), caller, "example.org", { mode: "allow", domains: ["other.net"] })
    ).toBeUndefined()
    expect(callerName(caller)).toBe("irp.other.net")
  })
})
