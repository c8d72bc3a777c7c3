/**
 * Test identities made by the `openssl` CLI: one CA and client certificates for handles, as PEM/DER
 * files in a temp dir. Shared by channel, CLI and benchmark tests.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pemDecode } from "../../src/domain/pem.js"
import { tempDir } from "./tempDirs.js"

export interface TestIdentity {
  readonly handle: string
  readonly keyPem: string
  readonly certPem: string
  readonly keyPath: string
  readonly certPath: string
  /** PKCS#8 DER of the private key. */
  readonly pkcs8: Uint8Array
  /** The certificate chain, DER, leaf first. */
  readonly chain: ReadonlyArray<Uint8Array>
}

export interface TestPki {
  readonly dir: string
  readonly caPath: string
  readonly caDer: Uint8Array
  readonly identity: (
    handle: string,
    options?: { eku?: string; days?: number; keyAlg?: "ec" | "ed25519" }
  ) => TestIdentity
  /** A server certificate (SAN dNSName, EKU serverAuth). */
  readonly server: (dnsName: string) => TestIdentity
}

const openssl = (dir: string, args: ReadonlyArray<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })

export const makeTestPki = (name = "SixChat Test CA"): TestPki => {
  const dir = tempDir("sixchat-pki-")
  openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key"])
  writeFileSync(
    join(dir, "ca.ext"),
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
  )
  openssl(dir, [
    "req",
    "-new",
    "-x509",
    "-key",
    "ca.key",
    "-subj",
    `/CN=${name}`,
    "-days",
    "3650",
    "-out",
    "ca.pem",
    "-sha256",
    "-extensions",
    "v3",
    "-config",
    writeConfig(dir)
  ])
  const caPath = join(dir, "ca.pem")
  const caDer = pemDecode(readFileSync(caPath, "utf8"), "CERTIFICATE")[0]!
  let n = 0
  const issue = (cn: string, ext: string, days: number, keyAlg: "ec" | "ed25519"): TestIdentity => {
    const base = `leaf${n++}`
    const keyArgs =
      keyAlg === "ec" ? ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-algorithm", "ED25519"]
    openssl(dir, ["genpkey", ...keyArgs, "-out", `${base}.key`])
    openssl(dir, ["req", "-new", "-key", `${base}.key`, "-subj", `/CN=${cn}`, "-out", `${base}.csr`])
    writeFileSync(join(dir, `${base}.ext`), ext)
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${base}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      String(days),
      "-sha256",
      "-extfile",
      `${base}.ext`,
      "-out",
      `${base}.pem`
    ])
    const keyPath = join(dir, `${base}.key`)
    const certPath = join(dir, `${base}.pem`)
    const keyPem = readFileSync(keyPath, "utf8")
    const certPem = readFileSync(certPath, "utf8")
    return {
      handle: cn,
      keyPem,
      certPem,
      keyPath,
      certPath,
      pkcs8: pemDecode(keyPem, "PRIVATE KEY")[0]!,
      chain: pemDecode(certPem, "CERTIFICATE")
    }
  }
  return {
    dir,
    caPath,
    caDer,
    identity: (handle, options = {}) =>
      issue(
        handle,
        `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${options.eku ?? "clientAuth"}\nsubjectAltName=email:${handle}\n`,
        options.days ?? 30,
        options.keyAlg ?? "ec"
      ),
    server: (dnsName) =>
      issue(
        dnsName,
        `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${dnsName}\n`,
        30,
        "ec"
      )
  }
}

const writeConfig = (dir: string): string => {
  const path = join(dir, "openssl.cnf")
  writeFileSync(
    path,
    "[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
  )
  return path
}

export const spkiFingerprint = (spki: Uint8Array): string => createHash("sha256").update(spki).digest("hex")
