/**
 * The CSR profile of PROTOCOL.md §17.4.2 as the server enforces it (issue 16), with requests made by the
 * `openssl` CLI (an implementation that is not ours): what is refused (`csr_invalid`, the token left
 * usable), what is accepted, and what of a request the issued certificate ignores.
 */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll, describe } from "vitest"
import type { Handle } from "../../../src/domain/brands.js"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import { openssl, opensslOk, readBytes, writePem } from "../../ca/cli.js"
import { NS, rawChannel, ULID } from "./raw.js"
import { connect, handle, makeDomain, newToken, quietLayer, removeTempDirs, sqliteServer, tempDir } from "./support.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

interface CsrSpec {
  /** `-newkey` argument: `ec` (P-256 unless `curve`), `ed25519`, `rsa:2048`. */
  readonly newkey: string
  readonly curve?: string
  /** `-subj`, e.g. `/CN=alice@example.org`. */
  readonly subj: string
  /** `-addext` values. */
  readonly ext?: ReadonlyArray<string>
  /** `-sha256`, `-sha384` (ECDSA only). */
  readonly digest?: string
}

let count = 0
/** A PKCS#10 request made by `openssl req`, DER. */
const opensslCsr = (dir: string, spec: CsrSpec): Uint8Array => {
  const name = `req${count++}`
  opensslOk(dir, [
    "req",
    "-new",
    "-newkey",
    spec.newkey,
    ...(spec.newkey === "ec" ? ["-pkeyopt", `ec_paramgen_curve:${spec.curve ?? "P-256"}`] : []),
    ...(spec.digest === undefined ? [] : [spec.digest]),
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-subj",
    spec.subj,
    ...(spec.ext ?? []).flatMap((e) => ["-addext", e]),
    "-outform",
    "DER",
    "-out",
    `${name}.der`
  ])
  return readBytes(dir, `${name}.der`)
}

/** `openssl x509 -text` of a DER certificate. */
const certText = (dir: string, der: Uint8Array): string => {
  const file = `cert${count++}.pem`
  writePem(dir, file, "CERTIFICATE", [der])
  return openssl(dir, ["x509", "-in", file, "-noout", "-text", "-nameopt", "RFC2253"]).stdout
}

const env = quietLayer

describe("the CSR profile (PROTOCOL.md §17.4.2)", () => {
  it.live("refused: a CN that is not exactly the handle, no CN, two CNs, a SAN other than the handle, RSA, P-384", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const running = yield* sqliteServer(domain)
      const alice = handle("alice")
      const token = yield* newToken(running.registry, alice)
      const client = yield* connect(running, null)
      const refused: ReadonlyArray<readonly [string, CsrSpec]> = [
        ["upper-case CN", { newkey: "ec", subj: "/CN=Alice@example.org" }],
        ["upper-case domain in the CN", { newkey: "ec", subj: "/CN=alice@Example.org" }],
        ["SAN only, no CN", { newkey: "ec", subj: "/O=example.org", ext: ["subjectAltName=email:alice@example.org"] }],
        ["two CNs", { newkey: "ec", subj: "/CN=alice@example.org/CN=alice@example.org" }],
        ["another handle's CN", { newkey: "ec", subj: "/CN=bob@example.org" }],
        [
          "an extra dNSName SAN",
          {
            newkey: "ec",
            subj: "/CN=alice@example.org",
            ext: ["subjectAltName=email:alice@example.org,DNS:example.org"]
          }
        ],
        [
          "a SAN of another handle",
          { newkey: "ec", subj: "/CN=alice@example.org", ext: ["subjectAltName=email:bob@example.org"] }
        ],
        ["an RSA key", { newkey: "rsa:2048", subj: "/CN=alice@example.org" }],
        ["a P-384 key", { newkey: "ec", curve: "P-384", subj: "/CN=alice@example.org" }]
      ]
      for (const [what, spec] of refused) {
        const csr = opensslCsr(dir, spec)
        const error = yield* Effect.flip(client.enroll({ handle: alice, token, csr }))
        expect([what, error.reason]).toEqual([what, "csr_invalid"])
        expect(error.message, what).not.toMatch(/\n/)
      }
      // Every refusal left the token usable (17.4.4).
      const good = opensslCsr(dir, { newkey: "ec", subj: "/CN=alice@example.org" })
      expect((yield* client.enroll({ handle: alice, token, csr: good })).chain).toHaveLength(2)
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live(
    "accepted: P-256 with SHA-256 or SHA-384, Ed25519, a SAN rfc822Name = the handle; extras are not copied",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const running = yield* sqliteServer(domain)
        const client = yield* connect(running, null)
        const accepted: ReadonlyArray<readonly [string, CsrSpec]> = [
          ["p256-sha256", { newkey: "ec", subj: "/CN=p256-sha256@example.org", digest: "-sha256" }],
          ["p256-sha384", { newkey: "ec", subj: "/CN=p256-sha384@example.org", digest: "-sha384" }],
          ["ed25519", { newkey: "ed25519", subj: "/CN=ed25519@example.org" }],
          ["san", { newkey: "ec", subj: "/CN=san@example.org", ext: ["subjectAltName=email:san@example.org"] }],
          [
            "extras",
            {
              newkey: "ec",
              subj: "/O=Evil Corp/OU=Admins/CN=extras@example.org",
              ext: [
                "basicConstraints=critical,CA:TRUE",
                "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
                "extendedKeyUsage=serverAuth,clientAuth"
              ]
            }
          ]
        ]
        for (const [local, spec] of accepted) {
          const who: Handle = handle(local)
          const token = yield* newToken(running.registry, who)
          const issued = yield* client.enroll({ handle: who, token, csr: opensslCsr(dir, spec) })
          const text = certText(dir, issued.chain[0]!)
          // 13.1: the subject is the CN alone, the SAN the handle alone, a leaf for clientAuth only,
          // whatever the request asked for.
          expect(text, local).toMatch(new RegExp(`Subject: CN=${local}@example.org\\n`))
          expect(text, local).toMatch(
            new RegExp(`X509v3 Subject Alternative Name: (critical)?\\s*email:${local}@example.org\\n`)
          )
          expect(text, local).toMatch(/CA:FALSE/)
          expect(text, local).toMatch(/X509v3 Extended Key Usage: \s*TLS Web Client Authentication\n/)
          expect(text, local).not.toMatch(/Certificate Sign|CRL Sign|Evil|Admins|Server Authentication/)
          expect(text, local).toMatch(/Signature Algorithm: ecdsa-with-SHA256/)
        }
      }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live(
    "handles are lower case on the wire: an Enroll for Alice@example.org is bad_request, naming the handle to write",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const running = yield* sqliteServer(domain)
        const raw = yield* rawChannel(running)
        const csr = Buffer.from(opensslCsr(dir, { newkey: "ec", subj: "/CN=alice@example.org" })).toString("base64")
        const token = yield* newToken(running.registry, handle("alice"))
        const answer = yield* raw.ask(
          `<Enroll ${NS} id="${ULID}" handle="Alice@example.org" token="${token}"><Csr>${csr}</Csr></Enroll>`
        )
        expect(answer).toMatchObject({ _tag: "irp.Error", id: ULID, code: "bad_request" })
        expect((answer as { readonly message: string }).message).toMatch(
          /handle="Alice@example.org".*"alice@example.org"/
        )
        // Lower-cased as the message says, the same request enrols (the token was not consumed).
        const issued = yield* raw.ask(
          `<Enroll ${NS} id="${ULID}" handle="alice@example.org" token="${token}"><Csr>${csr}</Csr></Enroll>`
        )
        expect(issued).toMatchObject({ _tag: "irp.Issued", id: ULID })
      }).pipe(Effect.scoped, Effect.provide(env))
  )
})
