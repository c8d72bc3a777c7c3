/**
 * Memory per idle established loopback connection: TcpTransport vs node:tls vs raw node:net.
 * Not a test (numbers depend on the machine). Run:
 *   npx esbuild --bundle --platform=node --format=esm --packages=external \
 *     test/transport/bench/idle-memory.ts --outfile=node_modules/.cache/bench/idle-memory.mjs \
 *     && node node_modules/.cache/bench/idle-memory.mjs        (PAIRS=3000 for another count)
 * Each mode runs in its own child process (`--expose-gc`); both ends of every connection live in
 * that process, so the figure is per connection *pair* (client socket + accepted socket).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Tls from "node:tls"
import { Effect } from "effect"
import { makeAddress } from "../../../src/domain/brands.js"
import * as TcpTransport from "../../../src/layers/transport/TcpTransport.js"
import type { Connection } from "../../../src/services/Transport.js"

const N = Number(process.env.PAIRS ?? 1000)
const modes = ["net", "tls", "ours", "ours+reader"] as const
type Mode = (typeof modes)[number]

const gc = (): void => (globalThis as { gc?: () => void }).gc!()
const settle = async (): Promise<NodeJS.MemoryUsage> => {
  await new Promise((r) => setTimeout(r, 300))
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((r) => setImmediate(r))
  }
  return process.memoryUsage()
}

const keep: Array<unknown> = []

const openNet = async (n: number): Promise<void> => {
  const server = Net.createServer((s) => keep.push(s))
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const port = (server.address() as Net.AddressInfo).port
  for (let i = 0; i < n; i++) {
    const c = Net.connect(port, "127.0.0.1")
    c.on("data", () => {})
    keep.push(c)
    await new Promise((r) => c.once("connect", r))
  }
}

const openTls = async (n: number): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), "idle-tls-"))
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-subj",
      "/CN=localhost",
      "-days",
      "1"
    ]),
    { stdio: "ignore" }
  )
  const key = readFileSync(join(dir, "key.pem"))
  const cert = readFileSync(join(dir, "cert.pem"))
  const server = Tls.createServer({ key, cert }, (s) => {
    s.on("data", () => {})
    keep.push(s)
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const port = (server.address() as Net.AddressInfo).port
  for (let i = 0; i < n; i++) {
    const c = Tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false })
    c.on("data", () => {})
    keep.push(c)
    await new Promise((r) => c.once("secureConnect", r))
  }
}

const openOurs = (n: number, withReader: boolean) =>
  Effect.gen(function* () {
    const transport = yield* TcpTransport.make
    const listener = yield* transport.listen(makeAddress("127.0.0.1", 0))
    const park = (c: Connection) =>
      withReader ? Effect.fork(c.read).pipe(Effect.map((f) => keep.push(f))) : Effect.void
    for (let i = 0; i < n; i++) {
      const client = yield* transport.dial(listener.address)
      const server = yield* listener.accept
      keep.push(client, server)
      yield* park(client)
      yield* park(server)
    }
  })

const open = async (mode: Mode, n: number): Promise<void> => {
  if (mode === "net") return openNet(n)
  if (mode === "tls") return openTls(n)
  void Effect.runFork(Effect.scoped(Effect.zipRight(openOurs(n, mode === "ours+reader"), Effect.never)))
  while (keep.length < 2 * n) await new Promise((r) => setTimeout(r, 20))
}

const child = async (mode: Mode): Promise<void> => {
  // Warm-up (JIT, runtime, first-use allocations), kept alive so it is part of the baseline.
  await open(mode, 50)
  const warm = keep.length
  const before = await settle()
  await open(mode, N)
  while (keep.length < warm + 2 * N) await new Promise((r) => setTimeout(r, 20))
  const after = await settle()
  const per = (k: keyof NodeJS.MemoryUsage) => ((after[k] - before[k]) / N / 1024).toFixed(1)
  process.stdout.write(
    JSON.stringify({ mode, heapKiB: per("heapUsed"), externalKiB: per("external"), rssKiB: per("rss") }) + "\n"
  )
  process.exit(0)
}

const mode = process.argv[2] as Mode | undefined
if (mode !== undefined) {
  void child(mode)
} else {
  console.log(`memory per idle connection pair, ${N} pairs over 127.0.0.1 (KiB)`)
  console.log("mode          heap   external   rss")
  for (const m of modes) {
    const out = spawnSync(process.execPath, ["--expose-gc", process.argv[1]!, m], { encoding: "utf8" })
    const r = JSON.parse(out.stdout.trim()) as { heapKiB: string; externalKiB: string; rssKiB: string }
    console.log(`${m.padEnd(12)} ${r.heapKiB.padStart(6)} ${r.externalKiB.padStart(9)} ${r.rssKiB.padStart(7)}`)
  }
}
