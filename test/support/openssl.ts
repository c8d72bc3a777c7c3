/**
 * Test PKI made with the `openssl` CLI in a temporary directory: keys, self-signed roots,
 * intermediates and leaves, with arbitrary extensions (an `-extfile` body) and exact validity
 * windows. Certificates are issued with `openssl ca`, whose `-startdate` / `-enddate` set any
 * window on every OpenSSL 3.x (`x509 -not_before` only exists from 3.4).
 *
 *   const ws = await makeWorkspace()
 *   const root = await ws.issue({ subject: "/CN=Root", extensions: Ext.root() })
 *   const leaf = await ws.issue({ subject: "/CN=alice@example.org", issuer: root, extensions: Ext.clientLeaf("alice@example.org") })
 *   ...
 *   await ws.cleanup()
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"

const run = promisify(execFile)

export type KeyType =
  | "ec-p256"
  | "ec-p384"
  | "ec-p521"
  | "rsa-1024"
  | "rsa-2048"
  | "rsa-3072"
  | "rsa-4096"
  | "rsa-pss-2048"
  | "ed25519"

export interface Key {
  readonly type: KeyType
  /** PKCS#8 PEM file. */
  readonly path: string
  readonly pem: string
}

export interface Cert {
  /** The `-subj` it was issued with, e.g. `/CN=alice@example.org/O=Example`. */
  readonly subject: string
  readonly path: string
  readonly pem: string
  readonly der: Uint8Array
  readonly key: Key
}

export interface IssueOptions {
  /** OpenSSL `-subj` syntax: `/CN=Root CA/O=Example`. */
  readonly subject: string
  /** The subject's key or the type of a fresh one (default `ec-p256`). */
  readonly key?: Key | KeyType
  /** Omitted: self-signed. */
  readonly issuer?: Cert
  /** Body of an `-extfile` (v3 extensions, one per line); see `Ext`. */
  readonly extensions?: string
  /** Validity start (default: one hour ago, to stay clear of clock edges). */
  readonly notBefore?: Date
  /** Validity end (default: `notBefore` + `days`). */
  readonly notAfter?: Date
  /** Used when `notAfter` is absent (default 365). */
  readonly days?: number
  /** Hex serial (default: 16 random bytes). */
  readonly serial?: string
  /** Default `sha256` (`sha1` only to test refusal); ignored for Ed25519 issuers. */
  readonly digest?: "sha1" | "sha256" | "sha384" | "sha512"
  /** Sign with RSA-PSS (issuer key RSA), salt length = digest length, MGF1 with the same digest. */
  readonly pss?: boolean
}

export interface OpensslWorkspace {
  readonly dir: string
  readonly key: (type: KeyType) => Promise<Key>
  readonly issue: (options: IssueOptions) => Promise<Cert>
  /** Writes `content` to a file in the workspace and returns its path. */
  readonly file: (name: string, content: string | Uint8Array) => Promise<string>
  /** Runs `openssl` with these arguments in the workspace; resolves to stdout. */
  readonly openssl: (args: ReadonlyArray<string>) => Promise<string>
  readonly cleanup: () => Promise<void>
}

/** `extfile` bodies for the usual profiles (PROTOCOL.md §13). */
export const Ext = {
  root: (extra = ""): string =>
    `basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n${extra}`,
  intermediate: (options: { readonly pathLen?: number; readonly extra?: string } = {}): string =>
    `basicConstraints = critical, CA:TRUE${options.pathLen === undefined ? "" : `, pathlen:${options.pathLen}`}\n` +
    "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n" +
    (options.extra ?? ""),
  clientLeaf: (handle: string, extra = ""): string =>
    "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n" +
    `subjectAltName = email:${handle}\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n${extra}`,
  serverLeaf: (dnsName: string, extra = ""): string =>
    "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n" +
    `subjectAltName = DNS:${dnsName}\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always\n${extra}`
} as const

const KEYGEN: Record<KeyType, ReadonlyArray<string>> = {
  "ec-p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
  "ec-p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
  "ec-p521": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
  /** Too short for any verifier worth the name: only to test refusal. */
  "rsa-1024": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
  "rsa-2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
  "rsa-3072": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
  "rsa-4096": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
  "rsa-pss-2048": ["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"],
  ed25519: ["-algorithm", "ED25519"]
}

/** `YYYYMMDDHHMMSSZ`, the form `openssl ca -startdate/-enddate` takes. */
export const opensslDate = (d: Date): string =>
  d
    .toISOString()
    .replace(/[-:T]/g, "")
    .replace(/\.\d{3}Z$/, "Z")

/** PEM of several certificates in one file (a chain or a bundle). */
export const bundle = (...certs: ReadonlyArray<Cert>): string => certs.map((c) => c.pem).join("")

/** `openssl version` as numbers, e.g. `{ major: 3, minor: 0, patch: 19 }`. */
export const opensslVersion = async (): Promise<{ major: number; minor: number; patch: number }> => {
  const { stdout } = await run("openssl", ["version"])
  const m = /OpenSSL (\d+)\.(\d+)\.(\d+)/.exec(stdout)
  if (m === null) throw new Error(`unrecognised openssl version: ${stdout}`)
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) }
}

const pemToDer = (pem: string): Uint8Array => {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem)
  if (m === null) throw new Error("openssl produced no certificate")
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"))
}

export const makeWorkspace = async (prefix = "sixchat-openssl-"): Promise<OpensslWorkspace> => {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  let counter = 0
  const next = (stem: string) => join(dir, `${stem}-${++counter}`)

  const openssl = async (args: ReadonlyArray<string>): Promise<string> => {
    try {
      const { stdout } = await run("openssl", [...args], { cwd: dir, maxBuffer: 16 * 1024 * 1024 })
      return stdout
    } catch (e) {
      const err = e as { stderr?: string; message: string }
      throw new Error(`openssl ${args.join(" ")} failed: ${err.stderr ?? err.message}`)
    }
  }

  const file = async (name: string, content: string | Uint8Array): Promise<string> => {
    const path = join(dir, name)
    await writeFile(path, content)
    return path
  }

  const key = async (type: KeyType): Promise<Key> => {
    const path = `${next("key")}.pem`
    await openssl(["genpkey", ...KEYGEN[type], "-out", path])
    return { type, path, pem: await readFile(path, "utf8") }
  }

  const issue = async (options: IssueOptions): Promise<Cert> => {
    const subjectKey = typeof options.key === "object" ? options.key : await key(options.key ?? "ec-p256")
    const base = next("cert")
    const notBefore = options.notBefore ?? new Date(Date.now() - 3600_000)
    const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (options.days ?? 365) * 86400_000)
    const serial =
      options.serial ?? (randomBytes(16)[0]! & 0x7f).toString(16).padStart(2, "0") + randomBytes(15).toString("hex")
    await writeFile(`${base}.index`, "")
    await writeFile(`${base}.serial`, `${serial.length % 2 === 1 ? "0" : ""}${serial}\n`)
    await writeFile(
      `${base}.cnf`,
      [
        "[ ca ]",
        "default_ca = CA_default",
        "[ CA_default ]",
        `database = ${base}.index`,
        `new_certs_dir = ${dir}`,
        `serial = ${base}.serial`,
        "policy = policy_any",
        "unique_subject = no",
        "email_in_dn = yes",
        "copy_extensions = none",
        "[ policy_any ]",
        ""
      ].join("\n")
    )
    await writeFile(`${base}.ext`, options.extensions ?? "")
    await openssl(["req", "-new", "-key", subjectKey.path, "-subj", options.subject, "-out", `${base}.csr`])
    const signerKey = options.issuer?.key ?? subjectKey
    const md = signerKey.type === "ed25519" ? "default" : (options.digest ?? "sha256")
    const pss =
      options.pss === true
        ? ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-sigopt", `rsa_mgf1_md:${md}`]
        : []
    await openssl([
      "ca",
      "-batch",
      "-config",
      `${base}.cnf`,
      ...(options.issuer === undefined ? ["-selfsign"] : ["-cert", options.issuer.path]),
      "-keyfile",
      signerKey.path,
      "-in",
      `${base}.csr`,
      "-out",
      `${base}.pem`,
      "-startdate",
      opensslDate(notBefore),
      "-enddate",
      opensslDate(notAfter),
      "-extfile",
      `${base}.ext`,
      "-md",
      md,
      ...pss,
      "-preserveDN",
      "-notext"
    ])
    const pem = await readFile(`${base}.pem`, "utf8")
    return { subject: options.subject, path: `${base}.pem`, pem, der: pemToDer(pem), key: subjectKey }
  }

  const cleanup = () => rm(dir, { recursive: true, force: true })
  return { dir, key, issue, file, openssl, cleanup }
}
