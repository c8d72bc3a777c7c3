/**
 * Loads the Wycheproof vector files kept in the repository (`test/vectors/wycheproof`, copied
 * unchanged from C2SP/wycheproof under Apache-2.0; see its README). A missing file FAILS the suite: these vectors are the
 * providers' acceptance test and must never be skipped silently.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const vectorDir = path.resolve(repoRoot, "test/vectors/wycheproof")

export type Result = "valid" | "invalid" | "acceptable"

export interface TestCase {
  readonly tcId: number
  readonly comment: string
  readonly flags: ReadonlyArray<string>
  readonly result: Result
}

export interface VectorFile<G> {
  readonly algorithm: string
  readonly numberOfTests: number
  readonly testGroups: ReadonlyArray<G>
}

export const loadVectors = <G>(file: string): VectorFile<G> => {
  const full = path.join(vectorDir, file)
  if (!fs.existsSync(full)) {
    throw new Error(`Wycheproof vectors missing: ${full} (expected at test/vectors/wycheproof from the repo root)`)
  }
  return JSON.parse(fs.readFileSync(full, "utf8")) as VectorFile<G>
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"))
export const toHex = (b: Uint8Array | null): string | null =>
  b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex")

/** Every test of every group, with its group, flattened. */
export const allTests = <G extends { readonly tests: ReadonlyArray<TestCase> }>(
  file: VectorFile<G>
): ReadonlyArray<{ readonly group: G; readonly test: G["tests"][number] }> =>
  file.testGroups.flatMap((group) => group.tests.map((test) => ({ group, test })))

export interface XdhTest extends TestCase {
  readonly public: string
  readonly private: string
  readonly shared: string
}
export interface AeadTest extends TestCase {
  readonly key: string
  readonly iv: string
  readonly aad: string
  readonly msg: string
  readonly ct: string
  readonly tag: string
}
export interface HkdfTest extends TestCase {
  readonly ikm: string
  readonly salt: string
  readonly info: string
  readonly size: number
  readonly okm: string
}
export interface SignatureTest extends TestCase {
  readonly msg: string
  readonly sig: string
}

export interface XdhGroup {
  readonly curve: string
  readonly tests: ReadonlyArray<XdhTest>
}
export interface AeadGroup {
  readonly keySize: number
  readonly ivSize: number
  readonly tagSize: number
  readonly tests: ReadonlyArray<AeadTest>
}
export interface HkdfGroup {
  readonly tests: ReadonlyArray<HkdfTest>
}
export interface VerifyGroup {
  readonly publicKeyDer: string
  readonly tests: ReadonlyArray<SignatureTest>
}
