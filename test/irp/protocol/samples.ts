/**
 * Sample IRP messages covering every message type and its edge cases (optional parts present and absent,
 * limits). Shared by the round-trip and XSD tests.
 */
import { Schema } from "effect"
import { IrpRequest, IrpServerMessage } from "../../../src/domain/irp/messages.js"
import type { IrpMessage } from "../../../src/domain/irp/xml.js"

export const ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
export const UUID7 = "01890a5d-ac96-774b-bcce-b302099a8057"

/** Deterministic bytes (a tiny LCG), so samples are stable across runs. */
export const bytes = (n: number, seed = 1): Uint8Array => {
  const out = new Uint8Array(n)
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

export interface Sample {
  readonly label: string
  readonly message: IrpMessage
}

const request = Schema.decodeUnknownSync(IrpRequest)
const answer = Schema.decodeUnknownSync(IrpServerMessage)
const q = (label: string, value: Record<string, unknown>): Sample => ({ label, message: request(value) })
const a = (label: string, value: Record<string, unknown>): Sample => ({ label, message: answer(value) })

const TOKEN = `sxe1-${"A".repeat(43)}`
const v4 = { host: "192.0.2.7", port: 4605 }
const v6 = { host: "2001:db8::1", port: 4605 }
const binding = { deviceId: "phone", addresses: [v6, v4], expiresAt: 1_780_000_000_123, seq: 42n }
const maxBinding = {
  deviceId: "d".repeat(64),
  addresses: Array.from({ length: 8 }, (_, i) => ({ host: `fe80::${i + 1}%eth0`, port: 65_535 - i })),
  expiresAt: 253_402_300_799_999,
  seq: 2n ** 63n - 1n
}

export const samples: ReadonlyArray<Sample> = [
  q("enroll", { _tag: "irp.Enroll", id: ULID, handle: "alice@example.org", token: TOKEN, csr: bytes(300, 1) }),
  q("enroll-odd-token", {
    _tag: "irp.Enroll",
    id: UUID7,
    handle: "a.b+c@sub.example.org",
    token: `<&>"'${"~".repeat(100)}`,
    csr: bytes(8192, 2)
  }),
  q("renew", { _tag: "irp.Renew", id: ULID, csr: bytes(1, 3) }),
  q("register-one", { _tag: "irp.Register", id: ULID, deviceId: "laptop", addresses: [v4], ttlSeconds: 300, seq: 0n }),
  q("register-max", {
    _tag: "irp.Register",
    id: ULID,
    deviceId: maxBinding.deviceId,
    addresses: maxBinding.addresses,
    ttlSeconds: 999_999_999,
    seq: maxBinding.seq
  }),
  q("deregister-device", { _tag: "irp.Deregister", id: ULID, deviceId: "phone" }),
  q("deregister-all", { _tag: "irp.Deregister", id: ULID, deviceId: null }),
  q("lookup", { _tag: "irp.Lookup", id: ULID, handle: "bob@example.org" }),
  q("status", { _tag: "irp.Status", id: ULID, serial: "1f2e3d4c5b6a79880706050403020100" }),
  q("status-zero", { _tag: "irp.Status", id: ULID, serial: "0" }),
  q("status-staple", { _tag: "irp.Status", id: ULID, serial: "1f2e", staple: true }),
  q("crl", { _tag: "irp.Crl", id: ULID }),
  q("revoke", { _tag: "irp.Revoke", id: ULID, serial: "abc", reason: "keyCompromise" }),
  q("watch-one", { _tag: "irp.Watch", id: ULID, handles: ["bob@example.org"] }),
  q("watch-max", {
    _tag: "irp.Watch",
    id: ULID,
    handles: Array.from({ length: 64 }, (_, i) => `user${i}@example.org`)
  }),
  q("unwatch-all", { _tag: "irp.Unwatch", id: ULID, handles: [] }),
  q("unwatch-some", { _tag: "irp.Unwatch", id: ULID, handles: ["bob@example.org", "carol@example.org"] }),
  q("ping", { _tag: "irp.Ping", id: UUID7 }),
  q("domain-info", { _tag: "irp.DomainInfo", id: ULID }),
  a("issued", {
    _tag: "irp.Issued",
    id: ULID,
    serial: "1234",
    notAfter: 1_800_000_000_000,
    chain: [bytes(600, 4), bytes(500, 5)]
  }),
  a("issued-max", {
    _tag: "irp.Issued",
    id: ULID,
    serial: "f".repeat(40),
    notAfter: 0,
    chain: [1, 2, 3, 4, 5].map((i) => bytes(8192, 10 + i))
  }),
  a("registered", {
    _tag: "irp.Registered",
    id: ULID,
    bindings: [binding, maxBinding],
    observed: { host: "198.51.100.9", port: 51_234 },
    natSuspected: true
  }),
  a("registered-bare", { _tag: "irp.Registered", id: ULID, bindings: [], observed: undefined, natSuspected: false }),
  a("lookup-good", {
    _tag: "irp.LookupResult",
    id: ULID,
    handle: "bob@example.org",
    status: "good",
    chain: [bytes(600, 6), bytes(500, 7)],
    bindings: [binding]
  }),
  a("lookup-unknown", {
    _tag: "irp.LookupResult",
    id: ULID,
    handle: "x@y",
    status: "unknown",
    chain: [],
    bindings: []
  }),
  a("status-good", { _tag: "irp.StatusResult", id: ULID, serial: "1234", status: "good" }),
  a("status-good-stapled", {
    _tag: "irp.StatusResult",
    id: ULID,
    serial: "1234",
    status: "good",
    staple: new Uint8Array(300).fill(7)
  }),
  a("status-revoked", {
    _tag: "irp.StatusResult",
    id: ULID,
    serial: "1234",
    status: "revoked",
    revokedAt: 1_780_000_000_000,
    reason: "superseded"
  }),
  a("crl-one", { _tag: "irp.CrlResult", id: ULID, part: 1, parts: 1, der: bytes(400, 8) }),
  a("crl-max-part", { _tag: "irp.CrlResult", id: ULID, part: 256, parts: 256, der: bytes(45_000, 9) }),
  a("domain-info-result", {
    _tag: "irp.DomainInfoResult",
    id: ULID,
    domain: "example.org",
    policy: "closed",
    root: bytes(500, 11)
  }),
  a("domain-info-result-max", {
    _tag: "irp.DomainInfoResult",
    id: UUID7,
    domain: `${"a".repeat(63)}.x-1.example.org`,
    policy: "allow",
    root: bytes(8192, 12)
  }),
  a("ok", { _tag: "irp.Ok", id: ULID }),
  a("changed", { _tag: "irp.Changed", handle: "bob@example.org", status: "good", bindings: [binding] }),
  a("changed-revoked", { _tag: "irp.Changed", handle: "bob@example.org", status: "revoked", bindings: [] }),
  a("error", { _tag: "irp.Error", id: ULID, code: "stale_sequence", message: "Send a larger seq." }),
  a("error-no-id", { _tag: "irp.Error", code: "bad_request", message: "" }),
  a("error-rate", {
    _tag: "irp.Error",
    id: ULID,
    code: "rate_limited",
    message: `Too many requests <&> "quoted"\n${"é".repeat(400)}`,
    retryAfterMs: 1500
  })
]
