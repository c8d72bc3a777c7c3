/**
 * Benchmark certificates, made with the `openssl` CLI into a temp dir: one ECDSA P-256 CA and two
 * ECDSA P-256 leaves (SAN email = handle, EKU clientAuth + serverAuth, KU digitalSignature), so the
 * very same files serve our channel and node:tls, as client and as server. A second, unrelated CA
 * and leaf ("rogue") let the bench check that both systems really refuse a chain they cannot build.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pemDecode } from "../src/domain/pem.js"

export interface BenchIdentity {
  readonly handle: string
  readonly keyPem: string
  readonly certPem: string
  /** PKCS#8 DER of the private key. */
  readonly pkcs8: Uint8Array
  /** DER, leaf first (the leaf alone: the CA is the trust anchor). */
  readonly chain: ReadonlyArray<Uint8Array>
}

export interface BenchPki {
  readonly dir: string
  readonly caPem: string
  readonly caDer: Uint8Array
  /** The dialer ("alice@bench.example") and the listener ("bob@bench.example"). */
  readonly client: BenchIdentity
  readonly server: BenchIdentity
  /** Issued by another CA: both systems must refuse it. */
  readonly rogue: BenchIdentity
}

export const CLIENT_HANDLE = "alice@bench.example"
export const SERVER_HANDLE = "bob@bench.example"
const ROGUE_HANDLE = "mallory@bench.example"

const CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
const leafExt = (handle: string) =>
  "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
  `extendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=email:${handle}\n` +
  "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"

const P256 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]

const openssl = (dir: string, args: ReadonlyArray<string>): void => {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
}

const makeCa = (dir: string, name: string, cn: string): void => {
  writeFileSync(join(dir, "openssl.cnf"), `[req]\ndistinguished_name=dn\n[dn]\n[v3]\n${CA_EXT}`)
  openssl(dir, ["genpkey", ...P256, "-out", `${name}.key`])
  openssl(dir, [
    "req",
    "-new",
    "-x509",
    "-sha256",
    "-key",
    `${name}.key`,
    "-subj",
    `/CN=${cn}`,
    "-days",
    "30",
    "-config",
    "openssl.cnf",
    "-extensions",
    "v3",
    "-out",
    `${name}.pem`
  ])
}

const issue = (dir: string, ca: string, handle: string): BenchIdentity => {
  const base = handle.slice(0, handle.indexOf("@"))
  openssl(dir, ["genpkey", ...P256, "-out", `${base}.key`])
  openssl(dir, ["req", "-new", "-key", `${base}.key`, "-subj", `/CN=${handle}`, "-out", `${base}.csr`])
  writeFileSync(join(dir, `${base}.ext`), leafExt(handle))
  openssl(dir, [
    "x509",
    "-req",
    "-sha256",
    "-in",
    `${base}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "30",
    "-extfile",
    `${base}.ext`,
    "-out",
    `${base}.pem`
  ])
  const keyPem = readFileSync(join(dir, `${base}.key`), "utf8")
  const certPem = readFileSync(join(dir, `${base}.pem`), "utf8")
  return {
    handle,
    keyPem,
    certPem,
    pkcs8: pemDecode(keyPem, "PRIVATE KEY")[0]!,
    chain: pemDecode(certPem, "CERTIFICATE")
  }
}

/** Makes the benchmark PKI in a fresh temp dir (about half a second of `openssl` runs). */
export const makeBenchPki = (): BenchPki => {
  const dir = mkdtempSync(join(tmpdir(), "sixchat-bench-"))
  makeCa(dir, "ca", "SixChat Bench CA")
  const client = issue(dir, "ca", CLIENT_HANDLE)
  const server = issue(dir, "ca", SERVER_HANDLE)
  makeCa(dir, "rogue-ca", "Rogue CA")
  const rogue = issue(dir, "rogue-ca", ROGUE_HANDLE)
  const caPem = readFileSync(join(dir, "ca.pem"), "utf8")
  return { dir, caPem, caDer: pemDecode(caPem, "CERTIFICATE")[0]!, client, server, rogue }
}

/** What a child process needs to rebuild the PKI without running openssl again. */
export const savePki = (pki: BenchPki): string => {
  const path = join(pki.dir, "pki.json")
  const id = (i: BenchIdentity) => ({ handle: i.handle, keyPem: i.keyPem, certPem: i.certPem })
  writeFileSync(
    path,
    JSON.stringify({
      dir: pki.dir,
      caPem: pki.caPem,
      client: id(pki.client),
      server: id(pki.server),
      rogue: id(pki.rogue)
    })
  )
  return path
}

export const loadPki = (path: string): BenchPki => {
  const raw = JSON.parse(readFileSync(path, "utf8")) as {
    dir: string
    caPem: string
    client: { handle: string; keyPem: string; certPem: string }
    server: { handle: string; keyPem: string; certPem: string }
    rogue: { handle: string; keyPem: string; certPem: string }
  }
  const id = (i: { handle: string; keyPem: string; certPem: string }): BenchIdentity => ({
    ...i,
    pkcs8: pemDecode(i.keyPem, "PRIVATE KEY")[0]!,
    chain: pemDecode(i.certPem, "CERTIFICATE")
  })
  return {
    dir: raw.dir,
    caPem: raw.caPem,
    caDer: pemDecode(raw.caPem, "CERTIFICATE")[0]!,
    client: id(raw.client),
    server: id(raw.server),
    rogue: id(raw.rogue)
  }
}

export const removePki = (pki: BenchPki): void => rmSync(pki.dir, { recursive: true, force: true })
