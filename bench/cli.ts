/**
 * `npm run bench:cli`: start-up time of the command line (issue 13), a figure to read, not a test.
 * Each command line runs as a fresh process N times (default 10, `SIXCHAT_BENCH_RUNS`); the table
 * shows the median and the fastest wall time, beside `node -e 0` (Node's own start-up) and the same
 * commands through the unbundled tsc output (dist/main.js) for comparison. `send` and `history` run
 * against a home with no agent: they load everything they need, try the control socket and exit 3,
 * so the figure is start-up plus one failed connect.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const BIN = fileURLToPath(new URL("../../bin/sixchat", import.meta.url))
const UNBUNDLED = fileURLToPath(new URL("../../dist/main.js", import.meta.url))
const runs = Number(process.env.SIXCHAT_BENCH_RUNS ?? 10)

const time = (args: ReadonlyArray<string>): number => {
  const started = process.hrtime.bigint()
  spawnSync(process.execPath, args, { stdio: "ignore" })
  return Number(process.hrtime.bigint() - started) / 1e6
}

const figure = (label: string, args: ReadonlyArray<string>) => {
  const times = Array.from({ length: runs }, () => time(args)).sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)] ?? 0
  console.log(`${label.padEnd(44)} ${median.toFixed(0).padStart(6)} ms ${(times[0] ?? 0).toFixed(0).padStart(6)} ms`)
}

const home = mkdtempSync(Path.join(tmpdir(), "sixchat-bench-cli-"))
try {
  const commands: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["--version", ["--version"]],
    ["send (no agent)", ["send", "--home", home, "bob@example.org", "hi"]],
    ["history (no agent)", ["history", "--home", home]],
    ["send --help", ["send", "--help"]],
    ["--help (every command loaded)", ["--help"]]
  ]
  console.log(`start-up, ${runs} runs each, node ${process.version}`)
  console.log(`${"command line".padEnd(44)} ${"median".padStart(9)} ${"fastest".padStart(9)}`)
  figure("node -e 0", ["-e", "0"])
  for (const [label, args] of commands) figure(`sixchat ${label}`, [BIN, ...args])
  for (const [label, args] of commands.slice(0, 3)) figure(`unbundled ${label}`, [UNBUNDLED, ...args])
} finally {
  rmSync(home, { recursive: true, force: true })
}
