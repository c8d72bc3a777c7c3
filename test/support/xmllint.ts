/**
 * xmllint against one of our XML Schemas, for the tests that hold `schema/*.xsd` and the code to the same
 * language: one run over many files, its verdicts ("<file> validates" / "fails to validate") on stderr.
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"

export const xmllint = (xsd: string, files: ReadonlyArray<string>): { status: number | null; output: string } => {
  const r = spawnSync("xmllint", ["--noout", "--schema", xsd, ...files], { encoding: "utf8" })
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT")
    throw new Error("xmllint is not installed: install libxml2-utils (apt-get install libxml2-utils) to run this test")
  if (r.error !== undefined) throw r.error
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

/** Writes each document to `dir/<prefix>-<label>.xml`; the paths, in order. */
export const writeDocuments = (
  dir: string,
  prefix: string,
  documents: ReadonlyArray<{ readonly label: string; readonly document: string | Uint8Array }>
): Array<string> =>
  documents.map(({ label, document }) => {
    const file = join(dir, `${prefix}-${label}.xml`)
    writeFileSync(file, document)
    return file
  })
