/**
 * `npm run bench:cli`: start-up time of the command line (issue 13), a figure to read, not a test.
 * Each command line runs as a fresh process N times (default 10, `--quick` 5, `SIXCHAT_BENCH_RUNS`);
 * the table shows the CPU time per run (user + system, from the children's times in /proc/self/stat,
 * Linux only; the figure that holds on a loaded machine), the median and the fastest wall time, beside
 * `node -e 0` (Node's own start-up). The same command lines then run from the bundle without its code
 * cache (`node dist/bundle/sixchat.cjs`) and from the unbundled tsc output (`node dist/cli/start.js`).
 * `send`, `history` and `status` run against a home with no agent: they load everything they need, try
 * the control socket and exit 3, so the figure is start-up plus one failed connect.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const BIN = fileURLToPath(new URL("../../bin/sixchat", import.meta.url))
const BUNDLE = fileURLToPath(new URL("../../dist/bundle/sixchat.cjs", import.meta.url))
const UNBUNDLED = fileURLToPath(new URL("../../dist/cli/start.js", import.meta.url))
const runs = Number(process.env.SIXCHAT_BENCH_RUNS ?? (process.argv.includes("--quick") ? 5 : 10))

/** CPU seconds of the children this process has waited for (clock ticks of 10 ms), if /proc says. */
const childrenCpu = (): number | undefined => {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[13]) + Number(fields[14])) / 100
  } catch {
    return undefined
  }
}

const wall = (args: ReadonlyArray<string>): number => {
  const started = process.hrtime.bigint()
  spawnSync(process.execPath, args, { stdio: "ignore" })
  return Number(process.hrtime.bigint() - started) / 1e6
}

const ms = (n: number | undefined) => (n === undefined ? "n/a" : n.toFixed(0)).padStart(6)

const figure = (label: string, args: ReadonlyArray<string>) => {
  const before = childrenCpu()
  const times = Array.from({ length: runs }, () => wall(args)).sort((a, b) => a - b)
  const after = childrenCpu()
  const cpu = before === undefined || after === undefined ? undefined : ((after - before) * 1000) / runs
  const median = times[Math.floor(times.length / 2)] ?? 0
  console.log(`${label.padEnd(44)} ${ms(cpu)} ms ${ms(median)} ms ${ms(times[0])} ms`)
}

const home = mkdtempSync(Path.join(tmpdir(), "sixchat-bench-cli-"))
try {
  const commands: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["--version", ["--version"]],
    ["send (no agent)", ["send", "--home", home, "bob@example.org", "hi"]],
    ["history (no agent)", ["history", "--home", home]],
    ["status (no agent)", ["status", "--home", home]],
    ["send --help", ["send", "--help"]],
    ["--help (every command loaded)", ["--help"]]
  ]
  const [l1, l5, l15] = loadavg().map((l) => l.toFixed(2))
  console.log(`start-up, ${runs} runs each, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}`)
  console.log(`load average ${l1} ${l5} ${l15}`)
  console.log(`${"command line".padEnd(44)} ${"CPU/run".padStart(9)} ${"median".padStart(9)} ${"fastest".padStart(9)}`)
  figure("node -e 0", ["-e", "0"])
  for (const [label, args] of commands) figure(`sixchat ${label}`, [BIN, ...args])
  for (const [label, args] of commands.slice(1, 4)) figure(`bundle, no code cache: ${label}`, [BUNDLE, ...args])
  for (const [label, args] of commands.slice(1, 4)) figure(`unbundled: ${label}`, [UNBUNDLED, ...args])
} finally {
  rmSync(home, { recursive: true, force: true })
}
