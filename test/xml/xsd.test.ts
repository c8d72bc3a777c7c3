/**
 * schema/e2e.xsd and the code agree: xmllint accepts every document the encoder emits, and refuses a set
 * of invalid documents that the decoder refuses too.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Either } from "effect"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { decodeE2E, encodeE2E } from "../../src/domain/e2e/xml.js"
import { writeDocuments, xmllint } from "../support/xmllint.js"
import { e2eMessage } from "./arbitraries.js"
import { bytes, samples, ULID } from "./samples.js"

const XSD = join(import.meta.dirname, "../../schema/e2e.xsd")
const NS = 'xmlns="urn:sixchat:e2e:1"'
const b64 = (n: number, seed = 1) => Buffer.from(bytes(n, seed)).toString("base64")
const dir = mkdtempSync(join(tmpdir(), "sixchat-xsd-"))
afterAll(() => (process.env.KEEP ? undefined : rmSync(dir, { recursive: true, force: true })))

/** Documents the XSD must refuse, each with the decoder's verdict checked alongside. */
const invalid: ReadonlyArray<readonly [string, string]> = [
  ["bad-id", `<Ack ${NS} id="not-an-id"/>`],
  ["ack-extra-attribute", `<Ack ${NS} id="${ULID}" extra="1"/>`],
  ["ack-text", `<Ack ${NS} id="${ULID}"> </Ack>`],
  ["hello-no-keyshare", `<Hello ${NS} random="${b64(32)}"><Version>1</Version><Suite>s</Suite></Hello>`],
  [
    "hello-out-of-order",
    `<Hello ${NS} random="${b64(32)}"><Suite>s</Suite><Version>1</Version><KeyShare group="x25519">${b64(32)}</KeyShare></Hello>`
  ],
  ["hello-short-random", `<Hello ${NS} random="${b64(31)}"><Version>1</Version></Hello>`],
  ["finished-31-bytes", `<Finished ${NS}>${b64(31)}</Finished>`],
  ["finished-noncanonical-pad", `<Finished ${NS}>${b64(32).slice(0, 42)}B=</Finished>`],
  ["finished-whitespace", `<Finished ${NS}>${b64(32)}\n</Finished>`],
  ["certificate-six", `<Certificate ${NS}>${`<Cert>${b64(3)}</Cert>`.repeat(6)}</Certificate>`],
  ["certificate-unknown-child", `<Certificate ${NS}><Cert>${b64(3)}</Cert><X/></Certificate>`],
  ["certificate-status-first", `<Certificate ${NS}><Status>${b64(3)}</Status><Cert>${b64(3)}</Cert></Certificate>`],
  [
    "certificate-two-statuses",
    `<Certificate ${NS}><Cert>${b64(3)}</Cert><Status>${b64(3)}</Status><Status>${b64(3)}</Status></Certificate>`
  ],
  [
    "certificate-status-too-long",
    `<Certificate ${NS}><Cert>${b64(3)}</Cert><Status>${b64(1027)}</Status></Certificate>`
  ],
  ["certificate-verify-no-alg", `<CertificateVerify ${NS}>${b64(64)}</CertificateVerify>`],
  ["alert-unknown-code", `<Alert ${NS} code="nope"/>`],
  ["alert-long-description", `<Alert ${NS} code="timeout" description="${"d".repeat(257)}"/>`],
  ["close-bad-token", `<Close ${NS} reason="two words"/>`],
  ["message-no-body", `<Message ${NS} id="${ULID}" sent="2024-05-01T12:34:56Z"/>`],
  ["message-bad-time", `<Message ${NS} id="${ULID}" sent="2024-05-01T12:34:56+02:00"><Body/></Message>`],
  [
    "message-long-body",
    `<Message ${NS} id="${ULID}" sent="2024-05-01T12:34:56Z"><Body>${"x".repeat(64_001)}</Body></Message>`
  ],
  ["typing-bad-state", `<Typing ${NS} state="typing"/>`],
  ["ping-long-nonce", `<Ping ${NS} nonce="${"n".repeat(65)}"/>`],
  ["file-done-upper-hex", `<FileDone ${NS} id="${ULID}" sha256="${"AB".repeat(32)}"/>`],
  ["file-done-no-digest", `<FileDone ${NS} id="${ULID}"/>`],
  ["file-offer-old-sha256", `<FileOffer ${NS} id="${ULID}" name="a" size="1" sha256="${"ab".repeat(32)}" chunk="1"/>`],
  ["file-offer-bad-etag", `<FileOffer ${NS} id="${ULID}" name="a" size="1" etag="a b" chunk="1"/>`],
  ["file-offer-leading-zero", `<FileOffer ${NS} id="${ULID}" name="a" size="01" etag="v" chunk="1"/>`],
  ["file-offer-size-2-63", `<FileOffer ${NS} id="${ULID}" name="a" size="9223372036854775808" etag="v" chunk="1"/>`],
  ["file-offer-chunk-0", `<FileOffer ${NS} id="${ULID}" name="a" size="1" etag="v" chunk="0"/>`],
  ["file-offer-chunk-65537", `<FileOffer ${NS} id="${ULID}" name="a" size="1" etag="v" chunk="65537"/>`],
  ["file-offer-empty-name", `<FileOffer ${NS} id="${ULID}" name="" size="1" etag="v" chunk="1"/>`],
  ["file-accept-space", `<FileAccept ${NS} id="${ULID}" offset=" 1"/>`],
  ["wrong-namespace", `<Ack xmlns="urn:sixchat:irp:1" id="${ULID}"/>`],
  ["unknown-root", `<Body ${NS}/>`]
]

describe("schema/e2e.xsd", () => {
  it("accepts every sample and 200 generated messages the encoder emits (one xmllint run over all of them)", () => {
    const generated = fc.sample(e2eMessage, { numRuns: 200, seed: 4605 }).map((g, i) => ({ ...g, label: `gen-${i}` }))
    const files = writeDocuments(
      dir,
      "valid",
      [...samples, ...generated].map((s) => ({ label: s.label, document: encodeE2E(s.message) }))
    )
    const { status, output } = xmllint(XSD, files)
    expect(output).not.toMatch(/fails to validate/)
    expect(status).toBe(0)
    for (const f of files) expect(output).toContain(`${f} validates`)
  })

  it("refuses invalid documents, which the decoder refuses as well", () => {
    const files = invalid.map(([label, xml]) => {
      expect(Either.isLeft(decodeE2E(new TextEncoder().encode(xml), "choice"))).toBe(true)
      const file = join(dir, `invalid-${label}.xml`)
      writeFileSync(file, xml)
      return file
    })
    const { status, output } = xmllint(XSD, files)
    expect(status).not.toBe(0)
    for (const f of files) expect(output).toContain(`${f} fails to validate`)
  })
})
