/** Received file names (issue 4, section 3): made safe (property tests), numbered, placed without overwrite. */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import {
  FALLBACK_FILE_NAME,
  MAX_FILE_NAME_BYTES,
  numberedName,
  safeFileName,
  utf8Length
} from "../../../src/domain/agent/fileName.js"
import { placeWithoutOverwrite, uniqueName } from "../../../src/layers/agent/store/AgentStoreLive.js"
import { tempDir } from "./helpers.js"

/** Strings rich in what attacks names: separators, dots, controls, bidi marks, astral and lone surrogates. */
const hostileName = fc.oneof(
  fc.string({ unit: "binary", maxLength: 400 }),
  fc
    .array(
      fc.constantFrom(
        "/",
        "\\",
        "..",
        ".",
        "\u0000",
        "\u202e",
        "\u200b",
        " ",
        "CON",
        "nul.txt",
        "a",
        "é",
        "😀",
        "\ud800",
        ":",
        "*"
      ),
      { maxLength: 80 }
    )
    .map((parts) => parts.join("")),
  fc.string({ unit: "grapheme", minLength: 200, maxLength: 400 })
)

const isSafe = (name: string) =>
  !name.includes("/") &&
  !name.includes("\\") &&
  !name.includes("\u0000") &&
  name !== "." &&
  name !== ".." &&
  !name.startsWith(".") &&
  name.length > 0 &&
  utf8Length(name) <= MAX_FILE_NAME_BYTES &&
  Buffer.byteLength(name, "utf8") <= MAX_FILE_NAME_BYTES &&
  // no control characters
  // biome-ignore lint/suspicious/noControlCharactersInRegex: testing for them
  !/[\u0000-\u001f\u007f-\u009f]/.test(name)

describe("safeFileName", () => {
  it("makes any offered name a single safe component (property)", () => {
    fc.assert(
      fc.property(hostileName, (offered) => isSafe(safeFileName(offered))),
      { numRuns: 2000 }
    )
  })

  it("is idempotent, so making a name safe twice changes nothing (property)", () => {
    fc.assert(
      fc.property(hostileName, (offered) => safeFileName(safeFileName(offered)) === safeFileName(offered)),
      { numRuns: 1000 }
    )
  })

  it("numbered alternatives stay safe and within 255 bytes (property)", () => {
    fc.assert(
      fc.property(hostileName, fc.integer({ min: 1, max: 99_999 }), (offered, n) => {
        const numbered = numberedName(safeFileName(offered), n)
        return isSafe(numbered) && numbered.includes(`(${n})`)
      }),
      { numRuns: 1000 }
    )
  })

  it("handles the classic attacks", () => {
    expect(safeFileName("../../etc/passwd")).toBe("passwd")
    expect(safeFileName("..\\..\\Windows\\System32\\cmd.exe")).toBe("cmd.exe")
    expect(safeFileName("/absolute/path/report.pdf")).toBe("report.pdf")
    expect(safeFileName("..")).toBe(FALLBACK_FILE_NAME)
    expect(safeFileName(".")).toBe(FALLBACK_FILE_NAME)
    expect(safeFileName("dir/")).toBe(FALLBACK_FILE_NAME)
    expect(safeFileName("")).toBe(FALLBACK_FILE_NAME)
    expect(safeFileName(".bashrc")).toBe("bashrc")
    expect(safeFileName("a\u0000b.txt")).toBe("ab.txt")
    expect(safeFileName("invoice\u202Efdp.exe")).toBe("invoicefdp.exe")
    expect(safeFileName("CON")).toBe("_CON")
    expect(safeFileName("nul.tar.gz")).toBe("_nul.tar.gz")
    expect(safeFileName("what?.txt ")).toBe("what_.txt")
    expect(safeFileName("name...")).toBe("name")
    expect(safeFileName("Cafe\u0301.txt")).toBe("Café.txt")
    expect(safeFileName("ordinary name (1).pdf")).toBe("ordinary name (1).pdf")
  })

  it("shortens long names to 255 bytes, keeping the extension and whole characters", () => {
    const long = `${"é".repeat(300)}.jpeg`
    const safe = safeFileName(long)
    expect(utf8Length(safe)).toBeLessThanOrEqual(255)
    expect(safe.endsWith(".jpeg")).toBe(true)
    expect(safe).toMatch(/^é+\.jpeg$/)
    expect(safeFileName("😀".repeat(100))).toBe("😀".repeat(63))
  })

  it("numbers names before the extension", () => {
    expect(numberedName("report.pdf", 0)).toBe("report.pdf")
    expect(numberedName("report.pdf", 1)).toBe("report (1).pdf")
    expect(numberedName("backup.tar.gz", 2)).toBe("backup (2).tar.gz")
    expect(numberedName("README", 3)).toBe("README (3)")
  })
})

describe("placing a received file", () => {
  it.scoped("uniqueName suggests the first free name", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      expect(yield* uniqueName(dir, "a.txt")).toBe(join(dir, "a.txt"))
      writeFileSync(join(dir, "a.txt"), "1")
      writeFileSync(join(dir, "a (1).txt"), "2")
      expect(yield* uniqueName(dir, "a.txt")).toBe(join(dir, "a (2).txt"))
      expect(yield* uniqueName(dir, "../a.txt")).toBe(join(dir, "a (2).txt"))
    })
  )

  it.scoped("placeWithoutOverwrite never replaces a file and never leaves the directory", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const downloads = join(dir, "downloads")
      mkdirSync(downloads)
      writeFileSync(join(downloads, "photo.jpg"), "theirs")
      const parts = join(dir, "parts")
      mkdirSync(parts)
      const placed: Array<string> = []
      for (const [i, offered] of ["photo.jpg", "../photo.jpg", "../../photo.jpg"].entries()) {
        const from = join(parts, `${i}.part`)
        writeFileSync(from, `ours ${i}`)
        placed.push(yield* placeWithoutOverwrite({ from, dir: downloads, name: offered }))
        expect(existsSync(from)).toBe(false)
      }
      expect(placed).toEqual([1, 2, 3].map((n) => join(downloads, `photo (${n}).jpg`)))
      expect(readFileSync(join(downloads, "photo.jpg"), "utf8")).toBe("theirs")
      expect(readFileSync(placed[2]!, "utf8")).toBe("ours 2")
      expect(readdirSync(dir).sort()).toEqual(["downloads", "parts"])
    })
  )
})
