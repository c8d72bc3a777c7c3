/**
 * Bob's side of `bench:agent`: his agent runs in a child process of its own
 * (`node dist-bench/bench/agent.js bob PKI.json HOME`, forked by the parent with an IPC channel), so the
 * two agents share no event loop, no heap and no SQLite connection, as two people's agents would.
 *
 * The child starts the agent on 127.0.0.1 (port chosen by the OS) and, beside it, a bare channel
 * server that swallows data records (the anchor of the file figure, so that the file transfer and
 * the channel's bulk rate are measured between the same two processes), reports `ready`, and notes the
 * moment each incoming message is stored: its agent's `MessageAdded` event, published right after
 * the durable commit, stamped with `process.hrtime` (CLOCK_MONOTONIC, the same clock in every
 * process of the machine, so the parent can subtract its own send times). It answers the parent's
 * questions over IPC and exits when the parent disconnects.
 */
import { type ChildProcess, fork } from "node:child_process"
import { readdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Stream } from "effect"
import type { Handle } from "../src/domain/brands.js"
import { startTlsCopyServer } from "./agentTlsCopy.js"
import { startBenchAgent } from "./agentWorld.js"
import { acceptLoop, channelsFor, listenLoopback } from "./ours.js"
import { loadPki } from "./pki.js"

/** Microseconds on the machine's monotonic clock (comparable across processes). */
export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n)

export type ToPeer =
  | { readonly type: "stored"; readonly ids: ReadonlyArray<string> }
  | { readonly type: "forget" }
  | { readonly type: "clean" }
  | { readonly type: "cpu" }

export type FromPeer =
  | { readonly type: "ready"; readonly port: number; readonly channelPort: number; readonly tlsPort: number }
  | { readonly type: "stored"; readonly times: ReadonlyArray<number | null> }
  | { readonly type: "forgot" }
  | { readonly type: "cleaned"; readonly files: number }
  | { readonly type: "cpu"; readonly user: number; readonly system: number }
  | { readonly type: "error"; readonly message: string }

const reply = (m: FromPeer): void => {
  process.send?.(m)
}

/** The child: `agent.js bob PKI.json HOME`. */
export const runPeer = async (pkiPath: string, home: string): Promise<void> => {
  const pki = loadPki(pkiPath)
  const storedAt = new Map<string, number>()
  let downloads = ""
  const ports = await new Promise<{ port: number; channelPort: number; tlsPort: number }>((resolve, reject) => {
    const program = Effect.gen(function* () {
      const bob = yield* startBenchAgent({ identity: pki.server, anchors: [pki.caDer], home, peers: new Map() })
      downloads = bob.downloads
      // The stamp goes on when the event arrives: right after the commit, in this process.
      yield* Effect.forkScoped(
        Stream.runForEach(bob.agent.events, (e) =>
          Effect.sync(() => {
            if (e._tag === "agent.MessageAdded" && e.message.direction === "in") storedAt.set(e.message.id, nowUs())
          })
        )
      )
      // The bulk anchor: `npm run bench`'s channel server (READY, then data records swallowed).
      const { channels, transport } = yield* channelsFor({
        provider: "node",
        identity: pki.server,
        anchors: [pki.caDer],
        signatureCacheSize: 0
      })
      const listener = yield* listenLoopback(transport)
      yield* Effect.forkScoped(acceptLoop(channels, listener, { handshakes: 0, failures: 0, lastError: "" }))
      // The file_tls_ratio anchor: node:tls 1.3 copies into the same downloads directory.
      const tls = yield* Effect.acquireRelease(
        Effect.promise(() => startTlsCopyServer(pki, bob.downloads)),
        (server) => Effect.sync(() => server.close())
      )
      const address = tls.address()
      const tlsPort = typeof address === "object" && address !== null ? address.port : 0
      resolve({ port: bob.address.port, channelPort: listener.address.port, tlsPort })
      return yield* Effect.never
    }).pipe(Effect.scoped)
    Effect.runPromise(program).catch(reject)
  })
  process.on("message", (m: ToPeer) => {
    switch (m.type) {
      case "stored":
        return reply({ type: "stored", times: m.ids.map((id) => storedAt.get(id) ?? null) })
      case "forget":
        storedAt.clear()
        return reply({ type: "forgot" })
      case "clean": {
        // Received files are not kept: each round would otherwise add a file to the disk.
        let files = 0
        for (const name of readdirSync(downloads)) {
          if (name.startsWith(".")) continue
          rmSync(join(downloads, name), { force: true })
          files++
        }
        return reply({ type: "cleaned", files })
      }
      case "cpu": {
        const cpu = process.cpuUsage()
        return reply({ type: "cpu", user: cpu.user, system: cpu.system })
      }
    }
  })
  process.on("disconnect", () => process.exit(0))
  reply({ type: "ready", ...ports })
}

/** The parent's handle on Bob's process. */
export class PeerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly handle: Handle,
    /** Bob's agent. */
    readonly port: number,
    /** Bob's bare channel server (bulk anchor). */
    readonly channelPort: number,
    /** Bob's node:tls copy server (file_tls_ratio anchor). */
    readonly tlsPort: number
  ) {}

  /** Forks `agent.js bob …` (same Node flags as this process, so `--cpu-prof` profiles both). */
  static start(pkiPath: string, home: string, handle: Handle): Promise<PeerProcess> {
    const script = fileURLToPath(new URL("./agent.js", import.meta.url))
    const child = fork(script, ["bob", pkiPath, home], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    return new Promise((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`bob's agent exited (${code}) before it was ready`)))
      child.once("message", (m: FromPeer) => {
        if (m.type === "ready") resolve(new PeerProcess(child, handle, m.port, m.channelPort, m.tlsPort))
        else reject(new Error(`bob's agent failed: ${m.type === "error" ? m.message : m.type}`))
      })
    })
  }

  private ask<T extends FromPeer["type"]>(message: ToPeer, answer: T): Promise<Extract<FromPeer, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromPeer) => {
        if (m.type !== answer && m.type !== "error") return
        this.child.off("message", onMessage)
        if (m.type === "error") reject(new Error(m.message))
        else resolve(m as Extract<FromPeer, { type: T }>)
      }
      this.child.on("message", onMessage)
      this.child.send(message)
    })
  }

  /** When Bob's store had each message (monotonic µs), `null` for one it has not reported. */
  async storedTimes(ids: ReadonlyArray<string>): Promise<ReadonlyArray<number | null>> {
    return (await this.ask({ type: "stored", ids }, "stored")).times
  }

  async forget(): Promise<void> {
    await this.ask({ type: "forget" }, "forgot")
  }

  /** Removes the files Bob received; how many there were. */
  async clean(): Promise<number> {
    return (await this.ask({ type: "clean" }, "cleaned")).files
  }

  /** CPU time of Bob's process so far (µs). */
  async cpu(): Promise<{ readonly user: number; readonly system: number }> {
    const m = await this.ask({ type: "cpu" }, "cpu")
    return { user: m.user, system: m.system }
  }

  /** Disconnects (the child exits by itself, writing its CPU profile if asked); kills it after 10 s. */
  stop(): Promise<void> {
    const child = this.child
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.kill()
        resolve()
      }, 10_000)
      child.once("exit", () => {
        clearTimeout(timer)
        resolve()
      })
      if (child.connected) child.disconnect()
    })
  }
}
