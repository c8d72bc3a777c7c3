/**
 * Entry point. `--version` answers before anything is loaded; every other command line runs the
 * bundle with its code cache (`cli/bundled.ts`) or, in a checkout built by tsc alone, the runner
 * (`cli/start.ts`), which loads only the command it names (`cli/app.ts`).
 */
import { VERSION } from "./cli/version.js"

const args = process.argv.slice(2)
if (args.length === 1 && args[0] === "--version") process.stdout.write(`${VERSION}\n`)
else if (!(await import("./cli/bundled.js")).runBundle()) await import("./cli/start.js")
