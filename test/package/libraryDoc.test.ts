/**
 * docs/LIBRARY.md shows the examples as they are: each file of `examples/` (typechecked by `npm run
 * typecheck` and, against the published package, by the consumer test) appears in it verbatim.
 */
import { readdirSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const root = resolve(import.meta.dirname, "../..")
const doc = readFileSync(join(root, "docs/LIBRARY.md"), "utf8")
const shown = [
  "test/package/consumer/twoPeers.spec.ts",
  ...readdirSync(join(root, "examples")).map((f) => `examples/${f}`)
]

describe("docs/LIBRARY.md", () => {
  it.each(shown)("shows %s verbatim", (file) => {
    const text = readFileSync(join(root, file), "utf8").trimEnd()
    expect(doc).toContain(`\`\`\`ts\n// ${file}\n${text}\n\`\`\``)
  })
})
