/**
 * Writes the man pages (src/cli/help/man.ts) into dist/man/ (`npm run build` runs it; package.json's
 * "man" field installs them): `man sixchat`, `man sixchat-agent`, `man sixchat-irp-serve`, ….
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { loadCommands, rootOf } from "../app.js"
import { manPages } from "../help/man.js"
import { commandDoc } from "../help/model.js"

/** Writes every page into `dir` (emptied first); returns the file names. */
export const writeManPages = async (dir: string): Promise<ReadonlyArray<string>> => {
  const root = commandDoc(rootOf(await loadCommands([])))
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const pages = manPages(root)
  for (const [file, text] of pages) writeFileSync(`${dir}/${file}`, text)
  return pages.map(([file]) => file)
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  await writeManPages(fileURLToPath(new URL("../../man", import.meta.url)))
