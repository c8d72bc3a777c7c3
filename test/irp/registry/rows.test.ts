/**
 * The binding columns as the registry writes and reads them (`rows.ts`): the JSON text written directly is
 * `JSON.stringify`'s, and the decoded addresses, remembered per text (issue 15), are the same values on
 * every read while a damaged row is still a `Storage` error.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { type Address, makeAddress } from "../../../src/domain/brands.js"
import {
  addressesJson,
  addressJson,
  bindingsNow,
  IDENTITY_COLUMNS,
  identityOf,
  identityOfArrays
} from "../../../src/layers/irp/registry/rows.js"

const hosts = ["192.0.2.1", "2001:db8::5", "node.example.org", 'a"b\\c', "ünï.example", "x\u0001y"]
const asStored = (addresses: ReadonlyArray<Address>) =>
  JSON.stringify(addresses.map((a) => ({ host: a.host, port: a.port })))

const row = (addresses: string, observed: string | null) => ({
  device_id: "d1",
  addresses,
  observed,
  expires_at: 1_000,
  seq: "7",
  updated_at: 500
})

describe("binding rows", () => {
  it("addressesJson and addressJson write what JSON.stringify writes", () => {
    const addresses = hosts.map((h, i) => ({ host: h, port: 4600 + i }) as Address)
    for (let n = 1; n <= addresses.length; n++)
      expect(addressesJson(addresses.slice(0, n))).toBe(asStored(addresses.slice(0, n)))
    for (const a of addresses) expect(addressJson(a)).toBe(JSON.stringify({ host: a.host, port: a.port }))
    expect(addressJson(undefined)).toBeNull()
  })
  it("reads the same bindings from the same text every time, as decoded values", () => {
    const addresses = addressesJson([makeAddress("192.0.2.1", 4605), makeAddress("2001:db8::5", 4606)])
    const observed = addressJson(makeAddress("203.0.113.9", 51000))
    const first = bindingsNow([row(addresses, observed)])
    // A fresh copy of the same text, as the driver hands over on the next read.
    const again = bindingsNow([row(`${addresses} `.trimEnd(), observed === null ? null : `${observed} `.trimEnd())])
    expect(Either.isRight(first) && first.right).toEqual([
      {
        deviceId: "d1",
        addresses: [
          { host: "192.0.2.1", port: 4605 },
          { host: "2001:db8::5", port: 4606 }
        ],
        expiresAt: 1_000,
        seq: 7n,
        observed: { host: "203.0.113.9", port: 51000 },
        updatedAt: 500
      }
    ])
    expect(Either.isRight(again) && again.right).toEqual(Either.isRight(first) && first.right)
    expect(Either.isRight(first) && Object.isFrozen(first.right[0]!.addresses)).toBe(true)
  })
  it("a damaged row is a Storage error, however often it is read", () => {
    for (const damaged of [row("[]", null), row('[{"host":"","port":1}]', null), row("not json", null)])
      for (let i = 0; i < 2; i++) {
        const read = bindingsNow([damaged])
        expect(Either.isLeft(read) && read.left.reason).toBe("Storage")
      }
    const badObserved = bindingsNow([row(addressesJson([makeAddress("192.0.2.1", 1)]), '{"host":"h","port":-1}')])
    expect(Either.isLeft(badObserved) && badObserved.left.reason).toBe("Storage")
  })
})

describe("identity rows as arrays (the synchronous Lookup read)", () => {
  const certificate = {
    serial: "5a11",
    handle: "olga@example.org",
    fingerprint: "ab".repeat(32),
    der: Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]),
    not_before: 100,
    not_after: 9_000,
    status: "good",
    revoked_at: null,
    reason: null
  }
  const noBinding = { device_id: null, addresses: null, observed: null, expires_at: null, seq: null, updated_at: null }
  const asArray = (r: Record<string, unknown>) => IDENTITY_COLUMNS.map((c) => r[c])
  const cases: ReadonlyArray<ReadonlyArray<Record<string, unknown>>> = [
    [],
    [{ ...certificate, ...noBinding }],
    [
      { ...certificate, ...row('[{"host":"192.0.2.1","port":4605}]', null), device_id: "laptop" },
      { ...certificate, ...row('[{"host":"192.0.2.2","port":4606}]', '{"host":"203.0.113.9","port":1}') }
    ],
    [{ ...certificate, status: "revoked", revoked_at: 500, reason: "superseded", ...noBinding }]
  ]
  it("decode to what the same rows as objects decode to", () => {
    for (const rows of cases) expect(identityOfArrays(rows.map(asArray))).toEqual(identityOf(rows))
  })
  it("a damaged row still throws (the caller's read then reports a Storage error)", () => {
    const damaged: ReadonlyArray<Record<string, unknown>> = [
      { ...certificate, der: "not bytes", ...noBinding },
      { ...certificate, status: "lost", ...noBinding },
      { ...certificate, ...row("[]", null) },
      { ...certificate, ...row('[{"host":"192.0.2.1","port":4605}]', null), seq: 7 }
    ]
    for (const r of damaged) {
      expect(() => identityOf([r])).toThrow()
      expect(() => identityOfArrays([asArray(r)])).toThrow()
    }
  })
})
