/**
 * Sample E2E messages covering every message type and its edge cases (optional fields present and
 * absent, limits, unicode and markup characters in text). Shared by the round-trip, XSD and fuzz tests.
 */
import { Schema } from "effect"
import { E2EMessage } from "../../src/domain/e2e/messages.js"
import type { HelloKind } from "../../src/domain/e2e/xml.js"

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

const make = Schema.decodeUnknownSync(E2EMessage)

export interface Sample {
  readonly label: string
  readonly message: E2EMessage
  readonly hello: HelloKind
}

const s = (label: string, value: Record<string, unknown>, hello: HelloKind = "offer"): Sample => ({
  label,
  message: make(value),
  hello
})

const tokens = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

export const samples: ReadonlyArray<Sample> = [
  s("hello-offer-min", {
    _tag: "e2e.HelloOffer",
    random: bytes(32, 1),
    versions: ["1"],
    keyShares: [{ group: "x25519", key: bytes(32, 2) }],
    suites: ["aes256gcm-sha256"],
    sigAlgs: ["ecdsa-p256-sha256"]
  }),
  s("hello-offer-max", {
    _tag: "e2e.HelloOffer",
    random: bytes(32, 3),
    versions: tokens("v", 8),
    keyShares: [
      { group: "x25519-mlkem768", key: bytes(2048, 4) },
      { group: "x25519", key: bytes(32, 5) },
      { group: "g.3", key: bytes(1, 6) },
      { group: "g_4", key: bytes(2, 7) }
    ],
    suites: tokens("suite-", 16),
    sigAlgs: [...tokens("alg.", 15), "a".repeat(64)]
  }),
  s(
    "hello-choice",
    {
      _tag: "e2e.HelloChoice",
      random: bytes(32, 8),
      version: "1",
      keyShare: { group: "x25519", key: bytes(32, 9) },
      suite: "aes256gcm-sha256"
    },
    "choice"
  ),
  s("certificate-empty", { _tag: "e2e.Certificate", chain: [] }),
  s("certificate-one", { _tag: "e2e.Certificate", chain: [bytes(600, 10)] }),
  s("certificate-empty-der", { _tag: "e2e.Certificate", chain: [bytes(0), bytes(1, 11), bytes(2, 12)] }),
  s("certificate-max", { _tag: "e2e.Certificate", chain: [1, 2, 3, 4, 5].map((i) => bytes(8192, 10 + i)) }),
  s("certificate-stapled", { _tag: "e2e.Certificate", chain: [bytes(600, 10)], status: bytes(300, 16) }),
  s("certificate-stapled-max", { _tag: "e2e.Certificate", chain: [bytes(600, 10)], status: bytes(1024, 17) }),
  s("certificate-verify", { _tag: "e2e.CertificateVerify", algorithm: "ecdsa-p256-sha256", signature: bytes(64, 20) }),
  s("certificate-verify-max", { _tag: "e2e.CertificateVerify", algorithm: "ed25519", signature: bytes(512, 21) }),
  s("certificate-verify-empty", { _tag: "e2e.CertificateVerify", algorithm: "ed25519", signature: bytes(0) }),
  s("finished", { _tag: "e2e.Finished", mac: bytes(32, 22) }),
  s("alert", { _tag: "e2e.Alert", code: "decode_error" }),
  s("alert-description", {
    _tag: "e2e.Alert",
    code: "bad_certificate",
    description: `bad <cert> & "quotes" 'apos'\ttab\nnewline\r\ncrlf ünïcødé 😀 ]]>`
  }),
  s("alert-description-max", { _tag: "e2e.Alert", code: "timeout", description: "é".repeat(128) }),
  s("key-update", { _tag: "e2e.KeyUpdate" }),
  s("close", { _tag: "e2e.Close" }),
  s("close-duplicate", { _tag: "e2e.Close", reason: "duplicate" }),
  s("message", { _tag: "e2e.Message", id: ULID, sent: "2024-05-01T12:34:56Z", body: "Hello, Bob!" }),
  s("message-markup", {
    _tag: "e2e.Message",
    id: UUID7,
    sent: "2024-05-01T12:34:56.123456789Z",
    body: `<&>"' &amp; &#65; ]]> <!-- not a comment --> <?pi?> <![CDATA[x]]>`
  }),
  s("message-unicode", {
    _tag: "e2e.Message",
    id: ULID,
    sent: "2024-05-01T12:34:56.5Z",
    body: "Grüße, 世界! 😀👍🏽 e\u0301 \u200d \ufeff \ufffd \u{10ffff}"
  }),
  s("message-whitespace", { _tag: "e2e.Message", id: ULID, sent: "2024-05-01T12:34:56Z", body: " \t\r\n\r  \n " }),
  s("message-empty", { _tag: "e2e.Message", id: ULID, sent: "2024-05-01T12:34:56Z", body: "" }),
  s("message-max", { _tag: "e2e.Message", id: ULID, sent: "2024-05-01T12:34:56Z", body: "x".repeat(64_000) }),
  s("ack-ulid", { _tag: "e2e.Ack", id: ULID }),
  s("ack-uuid7", { _tag: "e2e.Ack", id: UUID7 }),
  s("read", { _tag: "e2e.Read", id: ULID }),
  s("typing-active", { _tag: "e2e.Typing", state: "active" }),
  s("typing-paused", { _tag: "e2e.Typing", state: "paused" }),
  s("ping", { _tag: "e2e.Ping" }),
  s("ping-nonce", { _tag: "e2e.Ping", nonce: "n-1" }),
  s("pong", { _tag: "e2e.Pong" }),
  s("pong-nonce", { _tag: "e2e.Pong", nonce: "n-1" }),
  s("file-offer", {
    _tag: "e2e.FileOffer",
    id: ULID,
    name: "report.pdf",
    size: 123_456n,
    etag: "3f2a9c0d41e8b7a65d0c1e2f3a4b5c6d",
    chunk: 16_384
  }),
  s("file-offer-edges", {
    _tag: "e2e.FileOffer",
    id: UUID7,
    name: `<"ünï & cødé">\t'😀'.txt`,
    size: 2n ** 63n - 1n,
    etag: "A-z_0.9".padEnd(64, "x"),
    chunk: 65_512
  }),
  s("file-offer-empty", {
    _tag: "e2e.FileOffer",
    id: ULID,
    name: "x",
    size: 0n,
    etag: "e",
    chunk: 1
  }),
  s("file-accept", { _tag: "e2e.FileAccept", id: ULID, offset: 0n }),
  s("file-accept-resume", { _tag: "e2e.FileAccept", id: ULID, offset: 9_007_199_254_740_993n }),
  s("file-done", { _tag: "e2e.FileDone", id: ULID, sha256: bytes(32, 30) }),
  s("file-ack", { _tag: "e2e.FileAck", id: UUID7 }),
  s("file-cancel", { _tag: "e2e.FileCancel", id: ULID }),
  s("file-cancel-reason", { _tag: "e2e.FileCancel", id: ULID, reason: "user_cancelled" })
]

/** Every `_tag` of the E2E union, so a test can check that the samples cover them all. */
export const allTags: ReadonlyArray<E2EMessage["_tag"]> = [
  "e2e.HelloOffer",
  "e2e.HelloChoice",
  "e2e.Certificate",
  "e2e.CertificateVerify",
  "e2e.Finished",
  "e2e.Alert",
  "e2e.KeyUpdate",
  "e2e.Close",
  "e2e.Message",
  "e2e.Ack",
  "e2e.Read",
  "e2e.Typing",
  "e2e.Ping",
  "e2e.Pong",
  "e2e.FileOffer",
  "e2e.FileAccept",
  "e2e.FileDone",
  "e2e.FileAck",
  "e2e.FileCancel"
]
