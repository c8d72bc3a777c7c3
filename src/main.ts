/**
 * Entry point. `--version` answers before anything is loaded; every other command line loads the
 * runner (`cli/start.ts`), which loads only the command it names (`cli/app.ts`).
 */
import { VERSION } from "./cli/version.js"

const args = process.argv.slice(2)
if (args.length === 1 && args[0] === "--version") process.stdout.write(`${VERSION}\n`)
else await import("./cli/start.js")
