/**
 * Requests of example.org's users for other domains (PROTOCOL.md §22.4, §22.5), relayed by the IRP server to
 * the `Federation` service: here a fake one (`Layer.succeed`-style), so the test sees exactly what the
 * handlers make of its answers and failures. Real loopback TCP between the users and the server; the
 * relayed answers are validated against schema/irp.xsd with xmllint.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Queue, Scope, Stream } from "effect"
import type { Handle } from "../../../src/domain/brands.js"
import { parseCertificate } from "../../../src/domain/cert/parse.js"
import type { FederationPolicy } from "../../../src/domain/federation/policy.js"
import { serialiseXml } from "../../../src/domain/xml/write.js"
import { FederationError, type FederationService } from "../../../src/services/Federation.js"
import type { IdentityChange, IdentityRecord } from "../../../src/services/IrpClient.js"
import * as TestPki from "../../../src/testing/pki.js"
import { writeDocuments, xmllint } from "../../support/xmllint.js"
import { NS, rawChannel, ULID } from "../protocol/raw.js"
import { connect, enrol, handle, makeDomain, quietLayer, reasonOf, removeTempDirs } from "../protocol/support.js"
import { openPolicy, startFederated } from "./support.js"

const XSD = join(import.meta.dirname, "../../../schema/irp.xsd")
const xmlDir = mkdtempSync(join(tmpdir(), "sixchat-fed-xml-"))
afterAll(() => {
  removeTempDirs()
  rmSync(xmlDir, { recursive: true, force: true })
})

const STAPLE = new Uint8Array([1, 2, 3, 4])

/** A fake Federation: other.net knows carol; down.net is unreachable; refuse.net refuses us. */
const fakeFederation = Effect.gen(function* () {
  const other = yield* TestPki.make({ domain: "other.net" })
  const carol = yield* other.identity("carol@other.net")
  const parsed = parseCertificate(other.rootCertificate)
  if (parsed._tag !== "Parsed") return yield* Effect.die("the test root does not parse")
  const domainRoot = { root: other.rootCertificate, rootCertificate: parsed.certificate }
  const changes = yield* Queue.unbounded<IdentityChange>()
  const watches = { opened: 0, closed: 0 }
  const asked: Array<string> = []
  /** slow@other.net is answered only once this is done. */
  const gate = yield* Deferred.make<void>()
  const failing = (domain: string): FederationError | undefined =>
    domain === "down.net"
      ? new FederationError({ reason: "Unavailable", domain, message: "down.net's IRP did not answer within 5 s." })
      : domain === "refuse.net"
        ? new FederationError({
            reason: "Refused",
            domain,
            message: "refuse.net does not accept federation from example.org."
          })
        : undefined
  const service: FederationService = {
    lookup: (h) =>
      Effect.suspend((): Effect.Effect<IdentityRecord, FederationError> => {
        asked.push(`lookup ${h}`)
        const domain = h.slice(h.indexOf("@") + 1)
        const failure = failing(domain)
        if (failure !== undefined) return Effect.fail(failure)
        if (h === "slow@other.net")
          return Effect.as(Deferred.await(gate), { handle: h, status: "unknown" as const, chain: [], bindings: [] })
        if (h !== "carol@other.net")
          return Effect.fail(new FederationError({ reason: "NotFound", domain, message: `${h} is not known.` }))
        return Effect.succeed({ handle: h, status: "good" as const, chain: carol.chain, bindings: [], domainRoot })
      }),
    status: (domain, serial, options) =>
      Effect.suspend(() => {
        asked.push(`status ${domain} ${serial} ${options?.staple === true ? "staple" : ""}`)
        const failure = failing(domain)
        if (failure !== undefined) return Effect.fail(failure)
        return Effect.succeed({
          serial,
          status: "good" as const,
          ...(options?.staple === true ? { staple: STAPLE } : {})
        })
      }),
    domainInfo: (domain) =>
      Effect.suspend(() => {
        asked.push(`domainInfo ${domain}`)
        const failure = failing(domain)
        if (failure !== undefined) return Effect.fail(failure)
        return Effect.succeed({ domain, policy: "open" as const, ...domainRoot })
      }),
    watch: (handles) =>
      Effect.gen(function* () {
        const failure = failing(handles[0]!.slice(handles[0]!.indexOf("@") + 1))
        if (failure !== undefined) return yield* failure
        watches.opened++
        yield* Effect.addFinalizer(() => Effect.sync(() => watches.closed++))
        return Stream.fromQueue(changes).pipe(Stream.filter((c) => handles.includes(c.handle)))
      })
  }
  return { service, domainRoot, carol, changes, watches, asked, gate }
})

const started = (policy: FederationPolicy, withFederation = true, maxWatches = 256) =>
  Effect.gen(function* () {
    const fake = yield* fakeFederation
    const running = yield* startFederated(yield* Effect.promise(() => makeDomain()), {
      policy,
      publicAnchors: [],
      server: { allowAnonymousLookup: true, maxWatchesPerConnection: maxWatches },
      federation: withFederation ? fake.service : undefined
    })
    const alice = yield* enrol(running, "alice")
    const client = yield* connect(running, alice.identity)
    return { fake, running, alice, client }
  })

describe("IRP server: relaying users' requests to other domains", () => {
  it.live(
    "Lookup, Status and DomainInfo of another domain go to the Federation service; its failures become codes",
    () =>
      Effect.gen(function* () {
        const { fake, running, alice, client } = yield* started(openPolicy)
        const carol = yield* client.lookup(handle("carol", "other.net"))
        expect(carol.status).toBe("good")
        expect(carol.chain).toEqual(fake.carol.chain)
        // §22.3.3: the foreign root rides along, checked by the client (§22.3.2).
        expect(carol.domainRoot?.root).toEqual(fake.domainRoot.root)
        const nobody = yield* client.lookup(handle("nobody", "other.net"))
        expect(nobody).toMatchObject({ status: "unknown", chain: [], bindings: [] })

        const status = yield* client.status("1234" as never, { domain: "other.net", staple: true })
        expect(status).toMatchObject({ serial: "1234", status: "good", staple: STAPLE })
        const info = yield* client.domainInfo("other.net", { relay: true })
        expect(info.domain).toBe("other.net")
        expect(info.root).toEqual(fake.domainRoot.root)

        const unavailable = yield* Effect.flip(client.lookup(handle("x", "down.net")))
        expect(unavailable.reason).toBe("federation_unavailable")
        expect(unavailable.message).toContain("down.net's IRP did not answer")
        const refused = yield* Effect.flip(client.status("12" as never, { domain: "refuse.net" }))
        expect(refused.reason).toBe("federation_refused")
        expect(refused.message).toContain("refuse.net does not accept federation from example.org.")
        expect(yield* reasonOf(client.domainInfo("down.net", { relay: true }))).toBe("federation_unavailable")

        // Our own domain stays local: the service is not asked.
        expect((yield* client.lookup(alice.handle)).status).toBe("good")
        expect((yield* client.status(alice.serial as never, { domain: "example.org" })).status).toBe("good")
        expect(fake.asked).toEqual([
          "lookup carol@other.net",
          "lookup nobody@other.net",
          "status other.net 1234 staple",
          "domainInfo other.net",
          "lookup x@down.net",
          "status refuse.net 12 ",
          "domainInfo down.net"
        ])
        expect(running.log.filter((r) => r.request === "Lookup").map((r) => r.outcome)).toEqual([
          "ok",
          "ok",
          "federation_unavailable",
          "ok"
        ])
      }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("a relayed request that hangs holds up neither local requests nor the connection's next ones", () =>
    Effect.gen(function* () {
      const { fake, alice, client } = yield* started(openPolicy)
      const slow = yield* Effect.fork(client.lookup(handle("slow", "other.net")))
      // Same connection, sent after it: answered while the relayed one still waits.
      expect((yield* client.lookup(alice.handle)).status).toBe("good")
      expect((yield* client.lookup(handle("carol", "other.net"))).status).toBe("good")
      expect(slow.unsafePoll()).toBeNull()
      yield* Deferred.succeed(fake.gate, undefined)
      expect((yield* Fiber.join(slow)).status).toBe("unknown")
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("relayed answers validate against schema/irp.xsd; an anonymous caller gets nothing relayed", () =>
    Effect.gen(function* () {
      const { running, alice, fake } = yield* started(openPolicy)
      // Anonymous (here even with anonymous Lookup allowed): no DNS query, no connection on its behalf.
      const anonymous = yield* rawChannel(running)
      for (const request of [
        `<Lookup ${NS} id="${ULID}" handle="carol@other.net"/>`,
        `<Status ${NS} id="${ULID}" serial="1234" domain="other.net"/>`,
        `<DomainInfo ${NS} id="${ULID}" domain="other.net"/>`
      ]) {
        const refused = yield* anonymous.ask(request)
        expect(refused).toMatchObject({ _tag: "irp.Error", code: "unauthorized" })
      }
      expect(fake.asked).toEqual([])
      const raw = yield* rawChannel(running, alice.identity)
      yield* raw.send(`<Lookup ${NS} id="${ULID}" handle="carol@other.net"/>`)
      const first = yield* raw.channel.receive
      yield* raw.send(`<Status ${NS} id="${ULID}" serial="1234" staple="true" domain="other.net"/>`)
      const second = yield* raw.channel.receive
      yield* raw.send(`<DomainInfo ${NS} id="${ULID}" domain="other.net"/>`)
      const third = yield* raw.channel.receive
      const documents = [first, second, third].map((inbound, i) => {
        if (inbound._tag !== "Message") throw new Error(`expected an answer, got ${inbound._tag}`)
        return { label: `relayed-${i}-${inbound.message.name}`, document: serialiseXml(inbound.message) }
      })
      expect(documents.map((d) => d.label)).toEqual([
        "relayed-0-LookupResult",
        "relayed-1-StatusResult",
        "relayed-2-DomainInfoResult"
      ])
      expect(documents[0]!.document).toContain("<DomainCa>")
      const files = writeDocuments(xmlDir, "fed", documents)
      const { status, output } = xmllint(XSD, files)
      for (const f of files) expect(output).toContain(`${f} validates`)
      expect(status).toBe(0)
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live(
    "our own policy: closed and allow-lists refuse with a sentence; no Federation service refuses as before",
    () =>
      Effect.gen(function* () {
        const closed = yield* started({ mode: "closed", domains: [] })
        const c = yield* Effect.flip(closed.client.lookup(handle("carol", "other.net")))
        expect(c.reason).toBe("federation_refused")
        expect(c.serverMessage).toBe("example.org does not federate: its IRP relays no request to other.net.")

        const allow = yield* started({ mode: "allow", domains: ["other.net"] })
        expect((yield* allow.client.lookup(handle("carol", "other.net"))).status).toBe("good")
        const third = yield* Effect.flip(allow.client.status("12" as never, { domain: "third.net" }))
        expect(third.reason).toBe("federation_refused")
        expect(third.message).toContain("example.org does not federate with third.net.")
        expect(yield* reasonOf(allow.client.watch([handle("x", "third.net")]))).toBe("federation_refused")
        expect(allow.fake.asked).toEqual(["lookup carol@other.net"])

        const none = yield* started(openPolicy, false)
        // No Federation service (no public chain): refused with the reason, a Lookup as much as a DomainInfo.
        const noLookup = yield* Effect.flip(none.client.lookup(handle("carol", "other.net")))
        expect(noLookup.reason).toBe("federation_refused")
        expect(noLookup.serverMessage).toBe(
          "example.org does not relay requests to other.net: its IRP has no public certificate to federate with."
        )
        const noRelay = yield* Effect.flip(none.client.domainInfo("other.net", { relay: true }))
        expect(noRelay.reason).toBe("federation_refused")
        expect(noRelay.message).toContain("its IRP has no public certificate to federate with")
      }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )

  it.live("Watch of foreign handles: changes are pushed; Unwatch and the watch cap are honoured", () =>
    Effect.gen(function* () {
      const { fake, alice, client } = yield* started(openPolicy, true, 3)
      const carol = handle("carol", "other.net")
      // The client unwatches when the watch's scope closes.
      const watchScope = yield* Scope.make()
      const changes = yield* Scope.extend(client.watch([carol, alice.handle]), watchScope)
      expect(fake.watches).toEqual({ opened: 1, closed: 0 })
      yield* Queue.offer(fake.changes, { handle: carol, status: "revoked", bindings: [] })
      const pushed = yield* Stream.runHead(Stream.filter(changes, (c) => c.handle === carol))
      expect(Option.getOrThrow(pushed)).toEqual({ handle: carol, status: "revoked", bindings: [] })

      // Two more would make four: over the cap of 3, refused whole.
      const dave = handle("dave", "other.net") as Handle
      const erin = handle("erin", "other.net") as Handle
      expect(yield* reasonOf(client.watch([dave, erin]))).toBe("bad_request")
      expect(fake.watches.opened).toBe(1)

      yield* Scope.close(watchScope, Exit.void)
      // The subscription's scope is closed by a fiber of the connection: wait for it without a clock.
      while (fake.watches.closed < 1) yield* Effect.yieldNow()
      expect(fake.watches).toEqual({ opened: 1, closed: 1 })
      // Room again.
      yield* client.watch([dave])
      expect(fake.watches.opened).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(quietLayer))
  )
})
