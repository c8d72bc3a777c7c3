/**
 * Child processes of the benchmark: one server per system (`server.js`, kept for the whole run and
 * driven over IPC) and one fresh process per system for the idle-memory figure (`memory.js`).
 */
import { type ChildProcess, fork, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { FromServer, SystemName } from "./common.js"
import type { MemoryFigure } from "./memory.js"

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))

export interface CpuTime {
  readonly user: number
  readonly system: number
  /** Minor page faults so far (servers only; `bulkCpu.ts` reports them). */
  readonly minorFaults?: number
}

export class ServerProcess {
  private constructor(
    readonly system: SystemName,
    private readonly child: ChildProcess,
    readonly port: number
  ) {}

  /** Starts the server of `system`; `cacheSize` is the CertVerifier's signature cache (ours only). */
  static start(system: SystemName, pkiPath: string, cacheSize: number): Promise<ServerProcess> {
    // SIXCHAT_BENCH_SERVER_FLAGS: node flags for the server processes only (e.g. `--cpu-prof` to profile them).
    const flags = process.env.SIXCHAT_BENCH_SERVER_FLAGS?.split(" ").filter((f) => f.length > 0) ?? []
    const child = fork(here("./server.js"), [system, pkiPath, String(cacheSize)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: flags
    })
    return new Promise((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`the ${system} server exited (${code}) before it was ready`)))
      child.once("message", (m: FromServer) => {
        if (m.type === "ready") resolve(new ServerProcess(system, child, m.port))
        else reject(new Error(`the ${system} server failed: ${m.type === "error" ? m.message : m.type}`))
      })
    })
  }

  private ask<T extends FromServer["type"]>(type: T): Promise<Extract<FromServer, { type: T }>> {
    return new Promise((resolve) => {
      const onMessage = (m: FromServer) => {
        if (m.type !== type) return
        this.child.off("message", onMessage)
        resolve(m as Extract<FromServer, { type: T }>)
      }
      this.child.on("message", onMessage)
      this.child.send({ type })
    })
  }

  /** CPU time used by the server process so far (microseconds). */
  async cpu(): Promise<CpuTime> {
    const m = await this.ask("cpu")
    return { user: m.user, system: m.system, minorFaults: m.minorFaults }
  }

  stats() {
    return this.ask("stats")
  }

  /** Disconnects and waits for the child to exit by itself (so a `--cpu-prof` profile gets written). */
  stopAndWait(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve()
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()))
    if (this.child.connected) this.child.disconnect()
    return exited
  }

  stop(): void {
    if (this.child.connected) this.child.disconnect()
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill()
  }
}

/** Runs the idle-memory measurement of one system in a fresh process (with `--expose-gc`). */
export const measureMemory = (system: SystemName, pkiPath: string, connections: number): Promise<MemoryFigure> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", here("./memory.js"), system, pkiPath, String(connections)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString()
    })
    const timer = setTimeout(() => child.kill(), 180_000)
    // `close`, not `exit`: the figure is the last line of stdout, which `exit` can come before.
    child.once("close", (code) => {
      clearTimeout(timer)
      if (code !== 0) return reject(new Error(`the ${system} memory run failed (${code}): ${err.trim()}`))
      resolve(JSON.parse(out.trim()) as MemoryFigure)
    })
  })
