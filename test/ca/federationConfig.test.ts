/**
 * irp.json's `federation` field (PROTOCOL.md §22.5): absent means closed, a good one is read as written,
 * and a bad mode or domain is refused with a message that names the field and what it must be.
 */
import { randomBytes } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, ParseResult, Schema } from "effect"
import { afterAll } from "vitest"
import { DomainFile, defaultIrpConfig, IrpConfigJson } from "../../src/domain/pki/config.js"
import { initDomain, loadDomain } from "../../src/layers/ca/DomainDirectory.js"
import { removeTempDirs, tempDir } from "./cli.js"

afterAll(removeTempDirs)

const base = Schema.encodeSync(IrpConfigJson)(
  defaultIrpConfig({
    domain: "example.org",
    serverNames: ["irp.example.org"],
    clientValidityDays: 1,
    serverValidityDays: 1
  })
)
/** irp.json text with `federation` replaced (or removed, with `undefined`). */
const withFederation = (federation: unknown): string => {
  const json = JSON.parse(base) as Record<string, unknown>
  if (federation === undefined) delete json.federation
  else json.federation = federation
  return JSON.stringify(json)
}
const decode = (text: string) =>
  Either.mapLeft(Schema.decodeUnknownEither(IrpConfigJson)(text), (e) =>
    // The first problem, as loadDomain reports it.
    ParseResult.ArrayFormatter.formatErrorSync(e)
      .slice(0, 1)
      .map((i) => `${i.path.join(".")}: ${i.message}`)
      .join("")
  )
const problem = (federation: unknown): string => {
  const r = decode(withFederation(federation))
  if (Either.isRight(r)) throw new Error(`accepted ${JSON.stringify(federation)}`)
  return r.left
}

describe("irp.json federation", () => {
  it("is closed with no domains when absent, and new irp.json files say so", () => {
    expect(Either.getOrThrow(decode(withFederation(undefined))).federation).toEqual({ mode: "closed", domains: [] })
    expect(JSON.parse(base).federation).toEqual({ mode: "closed", domains: [] })
    expect(Either.getOrThrow(decode(withFederation({}))).federation).toEqual({ mode: "closed", domains: [] })
  })

  it("reads the modes and an allow-list as written", () => {
    const allow = { mode: "allow", domains: ["other.net", "a-b.example.com"] }
    expect(Either.getOrThrow(decode(withFederation(allow))).federation).toEqual(allow)
    expect(Either.getOrThrow(decode(withFederation({ mode: "open" }))).federation).toEqual({
      mode: "open",
      domains: []
    })
    const max = Array.from({ length: 256 }, (_, i) => `d${i}.example`)
    expect(Either.getOrThrow(decode(withFederation({ mode: "allow", domains: max }))).federation.domains).toHaveLength(
      256
    )
  })

  it("refuses a bad mode, naming the three modes", () => {
    expect(problem({ mode: "relay" })).toBe('federation.mode: the federation mode is "open", "allow" or "closed"')
    expect(problem({ mode: "Open" })).toContain("federation.mode")
  })

  it("refuses a bad domain, naming it", () => {
    for (const bad of ["Other.net", "other.net.", "localhost", "-x.org", "a b.org", ""])
      expect(problem({ mode: "allow", domains: [bad] }), bad).toContain(
        `federation.domains.0: "${bad}" is not a domain name`
      )
    expect(problem({ mode: "allow", domains: "other.net" })).toContain("federation.domains")
    expect(problem({ mode: "allow", domains: ["other.net", "x.org", "other.net"] })).toBe(
      "federation.domains: other.net is listed twice"
    )
    const tooMany = Array.from({ length: 257 }, (_, i) => `d${i}.example`)
    expect(problem({ mode: "allow", domains: tooMany })).toBe("federation.domains: at most 256 federation domains")
  })

  it.effect("loadDomain reads the policy, and refuses a bad one with one clear sentence", () =>
    Effect.gen(function* () {
      const dir = join(tempDir(), "example.org")
      yield* initDomain({ dir, domain: "example.org", now: new Date(), entropy: (n) => new Uint8Array(randomBytes(n)) })
      const file = join(dir, DomainFile.config)
      expect((yield* loadDomain(dir)).config.federation).toEqual({ mode: "closed", domains: [] })

      const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>
      writeFileSync(file, JSON.stringify({ ...json, federation: { mode: "allow", domains: ["other.net"] } }))
      expect((yield* loadDomain(dir)).config.federation).toEqual({ mode: "allow", domains: ["other.net"] })

      writeFileSync(file, JSON.stringify({ ...json, federation: { mode: "allow", domains: ["Other.NET"] } }))
      const error = yield* Effect.flip(loadDomain(dir))
      expect(error.message).toBe(
        `${file} is not a valid IRP configuration: federation.domains.0: "Other.NET" is not a domain name as federation lists them: lower case, at least two labels, no final dot (other.net).`
      )
    })
  )
})
