/**
 * `DomainInfo` (PROTOCOL.md §22.3.1) against a real server on loopback: answered to anyone (anonymous
 * and authenticated) with the domain, its federation mode and its root; what the server sends validates
 * against schema/irp.xsd; the client refuses an answer for another domain and a root that cannot be the
 * domain's CA; the request is logged and rate-limited like any anonymous request.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import { serialiseXml } from "../../../src/domain/xml/write.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import { RequestLog, type RequestRecord } from "../../../src/services/RequestLog.js"
import { writeDocuments, xmllint } from "../../support/xmllint.js"
import { NS, rawChannel, ULID } from "./raw.js"
import {
  buildRegistry,
  connect,
  enrol,
  makeDomain,
  quietLayer,
  type Running,
  reasonOf,
  removeTempDirs,
  sqliteRegistry,
  sqliteServer,
  startServer,
  verifierOf
} from "./support.js"

let domain: LoadedDomain
let other: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
  other = await makeDomain("other.net")
})
const xmlDir = mkdtempSync(join(tmpdir(), "sixchat-domaininfo-"))
afterAll(() => {
  removeTempDirs()
  rmSync(xmlDir, { recursive: true, force: true })
})

const env = quietLayer
const XSD = join(import.meta.dirname, "../../../schema/irp.xsd")

/** A server of example.org whose `DomainInfo` publishes `root` (its TLS identity and trust stay example.org's). */
const publishing = (root: Uint8Array) =>
  Effect.gen(function* () {
    const registry = yield* buildRegistry(sqliteRegistry())
    const running = yield* startServer({ ...domain, rootCertificate: root }, registry, {}, verifierOf(domain))
    return { ...running, domain } satisfies Running
  })

describe("DomainInfo (PROTOCOL.md §22.3.1)", () => {
  it.live("is answered to an anonymous and to an authenticated client: domain, closed policy, the root", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(domain)
      const anonymous = yield* connect(running, null)
      const info = yield* anonymous.domainInfo("example.org")
      expect(info.domain).toBe("example.org")
      expect(info.policy).toBe("closed")
      expect(info.root).toEqual(domain.rootCertificate)
      expect(info.rootCertificate.extensions.basicConstraints?.ca).toBe(true)
      // The expected domain is compared as §21.1 normalises it.
      expect((yield* anonymous.domainInfo("Example.ORG.")).domain).toBe("example.org")

      const alice = yield* enrol(running, "alice")
      const client = yield* connect(running, alice.identity)
      expect(yield* client.domainInfo("example.org")).toEqual(info)
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("states the federation mode of irp.json", () =>
    Effect.gen(function* () {
      for (const mode of ["open", "allow"] as const) {
        const config = { ...domain.config, federation: { mode, domains: ["other.net"] } }
        const running = yield* sqliteServer({ ...domain, config })
        const anonymous = yield* connect(running, null)
        expect((yield* anonymous.domainInfo("example.org")).policy).toBe(mode)
      }
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("what the server sends validates against schema/irp.xsd; a DomainInfo with more is bad_request", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(domain)
      const raw = yield* rawChannel(running)
      yield* raw.send(`<DomainInfo ${NS} id="${ULID}"/>`)
      const inbound = yield* raw.channel.receive
      if (inbound._tag !== "Message") return yield* Effect.die(`expected an answer, got ${inbound._tag}`)
      expect(inbound.message.name).toBe("DomainInfoResult")
      const files = writeDocuments(xmlDir, "server", [
        { label: "domain-info-result", document: serialiseXml(inbound.message) }
      ])
      const { status, output } = xmllint(XSD, files)
      expect(output).toContain(`${files[0]} validates`)
      expect(status).toBe(0)

      // Another domain (§22.4) is relayed for enrolled users only: this channel is anonymous.
      const refused = yield* raw.ask(`<DomainInfo ${NS} id="${ULID}" domain="other.net"/>`)
      expect(refused).toMatchObject({ _tag: "irp.Error", id: ULID, code: "unauthorized" })
      const badDomain = yield* raw.ask(`<DomainInfo ${NS} id="${ULID}" domain="Other.NET."/>`)
      expect(badDomain).toMatchObject({ _tag: "irp.Error", id: ULID, code: "bad_request" })
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("the client refuses the IRP of another domain (WrongDomain)", () =>
    Effect.gen(function* () {
      const running = yield* sqliteServer(other)
      const anonymous = yield* connect(running, null)
      const error = yield* Effect.flip(anonymous.domainInfo("example.org"))
      expect(error.reason).toBe("WrongDomain")
      expect(error.message).toContain("is the IRP of other.net, not of example.org")
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("the client refuses a root that cannot be the domain's CA (DomainRootRefused)", () =>
    Effect.gen(function* () {
      // other.net's root: its name constraints permit only @other.net.
      const foreignRoot = yield* connect(yield* publishing(other.rootCertificate), null)
      const outside = yield* Effect.flip(foreignRoot.domainInfo("example.org"))
      expect(outside.reason).toBe("DomainRootRefused")
      expect(outside.message).toContain("permits handles outside example.org")
      // The server's own certificate: not a CA.
      const leaf = yield* connect(yield* publishing(domain.serverChain[0]!), null)
      expect(yield* reasonOf(leaf.domainInfo("example.org"))).toBe("DomainRootRefused")
      // Bytes that are no certificate at all.
      const junk = yield* connect(yield* publishing(new Uint8Array([48, 3, 2, 1, 0])), null)
      const malformed = yield* Effect.flip(junk.domainInfo("example.org"))
      expect(malformed.reason).toBe("DomainRootRefused")
      expect(malformed.message).toContain("is not a valid certificate")
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("is logged as DomainInfo, and counted against the anonymous source's rate limit", () =>
    Effect.gen(function* () {
      const records: Array<RequestRecord> = []
      const running = yield* sqliteServer(domain, {
        rateLimits: {
          anonymous: { burst: 2, perSecond: 0.001 },
          authenticated: { burst: 100, perSecond: 100 },
          maxTrackedKeys: 100
        }
      }).pipe(Effect.provideService(RequestLog, { write: (r) => records.push(r) }))
      const anonymous = yield* connect(running, null)
      yield* anonymous.domainInfo("example.org")
      yield* anonymous.domainInfo("example.org")
      expect(yield* reasonOf(anonymous.domainInfo("example.org"))).toBe("rate_limited")
      expect(records.map((r) => [r.peer, r.request, r.outcome])).toEqual([
        ["anonymous", "DomainInfo", "ok"],
        ["anonymous", "DomainInfo", "ok"],
        ["anonymous", "DomainInfo", "rate_limited"]
      ])
    }).pipe(Effect.scoped, Effect.provide(env))
  )
})
