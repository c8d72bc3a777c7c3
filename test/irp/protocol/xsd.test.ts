/**
 * schema/irp.xsd and the code agree: xmllint accepts every document the encoder emits, and refuses a set
 * of invalid documents that the decoder refuses too.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Either } from "effect"
import fc from "fast-check"
import { afterAll, describe, expect, it } from "vitest"
import { decodeIrp, encodeIrp } from "../../../src/domain/irp/xml.js"
import { writeDocuments, xmllint } from "../../support/xmllint.js"
import { irpMessage } from "./arbitraries.js"
import { bytes, samples, ULID } from "./samples.js"

const XSD = join(import.meta.dirname, "../../../schema/irp.xsd")
const NS = 'xmlns="urn:sixchat:irp:1"'
const b64 = (n: number, seed = 1) => Buffer.from(bytes(n, seed)).toString("base64")
const dir = mkdtempSync(join(tmpdir(), "sixchat-irp-xsd-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const ADDR = '<Address host="::1" port="4605"/>'
const invalid: ReadonlyArray<readonly [string, string]> = [
  ["bad-id", `<Ok ${NS} id="not-an-id"/>`],
  ["ok-extra-attribute", `<Ok ${NS} id="${ULID}" extra="1"/>`],
  ["ok-text", `<Ok ${NS} id="${ULID}"> </Ok>`],
  ["enroll-no-csr", `<Enroll ${NS} id="${ULID}" handle="a@b.org" token="t"/>`],
  ["enroll-upper-handle", `<Enroll ${NS} id="${ULID}" handle="A@b.org" token="t"><Csr>${b64(3)}</Csr></Enroll>`],
  ["enroll-space-token", `<Enroll ${NS} id="${ULID}" handle="a@b.org" token="a b"><Csr>${b64(3)}</Csr></Enroll>`],
  ["enroll-empty-csr", `<Enroll ${NS} id="${ULID}" handle="a@b.org" token="t"><Csr></Csr></Enroll>`],
  ["renew-csr-too-big", `<Renew ${NS} id="${ULID}"><Csr>${b64(8196)}</Csr></Renew>`],
  ["register-no-address", `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="1"/>`],
  ["register-nine-addresses", `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="1">${ADDR.repeat(9)}</Register>`],
  [
    "register-port-0",
    `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="1"><Address host="::1" port="0"/></Register>`
  ],
  [
    "register-port-65536",
    `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="1"><Address host="::1" port="65536"/></Register>`
  ],
  [
    "register-host-space",
    `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="1"><Address host="a b" port="1"/></Register>`
  ],
  ["register-ttl-leading-zero", `<Register ${NS} id="${ULID}" device="d" ttl="030" seq="1">${ADDR}</Register>`],
  ["register-ttl-10-digits", `<Register ${NS} id="${ULID}" device="d" ttl="1000000000" seq="1">${ADDR}</Register>`],
  [
    "register-seq-2-63",
    `<Register ${NS} id="${ULID}" device="d" ttl="30" seq="9223372036854775808">${ADDR}</Register>`
  ],
  ["register-device-65", `<Register ${NS} id="${ULID}" device="${"d".repeat(65)}" ttl="30" seq="1">${ADDR}</Register>`],
  ["deregister-both", `<Deregister ${NS} id="${ULID}"><Device>d</Device><All/></Deregister>`],
  ["deregister-none", `<Deregister ${NS} id="${ULID}"/>`],
  ["deregister-all-text", `<Deregister ${NS} id="${ULID}"><All>x</All></Deregister>`],
  ["status-leading-zero-serial", `<Status ${NS} id="${ULID}" serial="0a"/>`],
  ["status-upper-serial", `<Status ${NS} id="${ULID}" serial="AB"/>`],
  ["revoke-hold", `<Revoke ${NS} id="${ULID}" serial="a" reason="certificateHold"/>`],
  ["revoke-no-reason", `<Revoke ${NS} id="${ULID}" serial="a"/>`],
  ["watch-empty", `<Watch ${NS} id="${ULID}"/>`],
  ["watch-65", `<Watch ${NS} id="${ULID}">${"<Handle>a@b.org</Handle>".repeat(65)}</Watch>`],
  ["issued-no-cert", `<Issued ${NS} id="${ULID}" serial="a" notAfter="2026-01-01T00:00:00Z"/>`],
  [
    "issued-offset-time",
    `<Issued ${NS} id="${ULID}" serial="a" notAfter="2026-01-01T00:00:00+01:00"><Cert>${b64(3)}</Cert></Issued>`
  ],
  ["registered-bool-1", `<Registered ${NS} id="${ULID}" natSuspected="1"/>`],
  [
    "registered-observed-after-binding",
    `<Registered ${NS} id="${ULID}" natSuspected="false"><Binding device="d" expires="2026-01-01T00:00:00Z" seq="1">${ADDR}</Binding><Observed host="::1" port="1"/></Registered>`
  ],
  ["lookup-bad-status", `<LookupResult ${NS} id="${ULID}" handle="a@b.org" status="expired"/>`],
  [
    "lookup-binding-before-cert",
    `<LookupResult ${NS} id="${ULID}" handle="a@b.org" status="good"><Binding device="d" expires="2026-01-01T00:00:00Z" seq="1">${ADDR}</Binding><Cert>${b64(3)}</Cert></LookupResult>`
  ],
  ["crl-part-0", `<CrlResult ${NS} id="${ULID}" part="0" parts="1">${b64(3)}</CrlResult>`],
  ["crl-part-257", `<CrlResult ${NS} id="${ULID}" part="1" parts="257">${b64(3)}</CrlResult>`],
  ["crl-empty", `<CrlResult ${NS} id="${ULID}" part="1" parts="1"></CrlResult>`],
  ["changed-with-id", `<Changed ${NS} id="${ULID}" handle="a@b.org" status="good"/>`],
  ["error-unknown-code", `<Error ${NS} id="${ULID}" code="teapot" message="x"/>`],
  ["error-no-message", `<Error ${NS} id="${ULID}" code="internal"/>`],
  ["error-long-message", `<Error ${NS} code="internal" message="${"m".repeat(513)}"/>`],
  ["error-retry-9-digits", `<Error ${NS} code="rate_limited" message="x" retryAfterMs="100000000"/>`],
  ["domain-info-handle", `<DomainInfo ${NS} id="${ULID}" handle="a@b.org"/>`],
  ["domain-info-result-no-cert", `<DomainInfoResult ${NS} id="${ULID}" domain="b.org" policy="open"/>`],
  [
    "domain-info-result-two-certs",
    `<DomainInfoResult ${NS} id="${ULID}" domain="b.org" policy="open"><Cert>${b64(3)}</Cert><Cert>${b64(3)}</Cert></DomainInfoResult>`
  ],
  [
    "domain-info-result-bad-policy",
    `<DomainInfoResult ${NS} id="${ULID}" domain="b.org" policy="relay"><Cert>${b64(3)}</Cert></DomainInfoResult>`
  ],
  [
    "domain-info-result-upper-domain",
    `<DomainInfoResult ${NS} id="${ULID}" domain="B.org" policy="open"><Cert>${b64(3)}</Cert></DomainInfoResult>`
  ],
  [
    "domain-info-result-one-label",
    `<DomainInfoResult ${NS} id="${ULID}" domain="org" policy="open"><Cert>${b64(3)}</Cert></DomainInfoResult>`
  ],
  ["wrong-namespace", `<Ok xmlns="urn:sixchat:e2e:1" id="${ULID}"/>`],
  ["local-element-as-root", `<Binding ${NS} device="d" expires="2026-01-01T00:00:00Z" seq="1">${ADDR}</Binding>`]
]

describe("schema/irp.xsd", () => {
  it("accepts every sample and 300 generated messages the encoder emits", () => {
    const generated = fc
      .sample(irpMessage, { numRuns: 300, seed: 4604 })
      .map((message, i) => ({ message, label: `gen-${i}` }))
    const files = writeDocuments(
      dir,
      "valid",
      [...samples, ...generated].map((s) => ({ label: s.label, document: encodeIrp(s.message) }))
    )
    const { status, output } = xmllint(XSD, files)
    expect(output).not.toMatch(/fails to validate/)
    expect(status).toBe(0)
    for (const f of files) expect(output).toContain(`${f} validates`)
  })

  it("refuses invalid documents, which the decoder refuses as well", () => {
    const files = invalid.map(([label, xml]) => {
      expect(Either.isLeft(decodeIrp(new TextEncoder().encode(xml))), label).toBe(true)
      const file = join(dir, `invalid-${label}.xml`)
      writeFileSync(file, xml)
      return file
    })
    const { status, output } = xmllint(XSD, files)
    expect(status).not.toBe(0)
    for (const f of files) expect(output, f).toContain(`${f} fails to validate`)
  })
})
