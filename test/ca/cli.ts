/**
 * The `openssl` CLI as an independent judge of what the CA writes, plus temp-dir helpers.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pemEncode } from "../../src/domain/pem.js"

const made: Array<string> = []

/** A fresh directory under the OS temp dir, removed by `removeTempDirs` (call it in `afterAll`). */
export const tempDir = (prefix = "sixchat-ca-"): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

export const removeTempDirs = (): void => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** Runs openssl in `cwd`; returns its exit status and output (never throws on a non-zero exit). */
export const openssl = (
  cwd: string,
  args: ReadonlyArray<string>
): { readonly status: number; readonly stdout: string; readonly stderr: string } => {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" })
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

/** Runs openssl and throws when it fails (setup steps). */
export const opensslOk = (cwd: string, args: ReadonlyArray<string>): void => {
  execFileSync("openssl", args, { cwd, stdio: "pipe" })
}

export const writePem = (dir: string, name: string, label: string, ders: ReadonlyArray<Uint8Array>): string => {
  const file = join(dir, name)
  writeFileSync(file, ders.map((d) => pemEncode(label, d)).join(""))
  return file
}

export const readBytes = (dir: string, name: string): Uint8Array => new Uint8Array(readFileSync(join(dir, name)))

/** A CSR made by `openssl req` with a new key of `newkey` (`ec` P-256, `ed25519`, `rsa:1024`, …), DER. */
export const opensslCsr = (
  dir: string,
  params: { readonly newkey: string; readonly cn: string; readonly san?: string; readonly curve?: string }
): Uint8Array => {
  const name = `csr-${Math.random().toString(36).slice(2)}`
  opensslOk(dir, [
    "req",
    "-new",
    "-newkey",
    params.newkey,
    ...(params.newkey === "ec" ? ["-pkeyopt", `ec_paramgen_curve:${params.curve ?? "P-256"}`] : []),
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-subj",
    `/CN=${params.cn}`,
    ...(params.san === undefined ? [] : ["-addext", `subjectAltName=${params.san}`]),
    "-outform",
    "DER",
    "-out",
    `${name}.der`
  ])
  return readBytes(dir, `${name}.der`)
}
