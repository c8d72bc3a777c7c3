/**
 * `npm run bench:agent` — the User Agent end to end (issue 4, section 7): durable messages per
 * second from Alice's agent to Bob's beside raw SQLite inserts of the same rows, message latency,
 * and file transfer beside the same copy over node:tls 1.3 (`file_tls_ratio`, issue 15) and the
 * secure channel's own bulk rate (`file_ratio`, information), in one run on this machine.
 *
 *   node --expose-gc dist-bench/bench/agent.js [--quick] [--json] [--only=messages|files|file|tls] [--file-mib=N]
 *
 * `--only` runs one half (for profiling with `--cpu-prof`, which profiles Bob's process too); the
 * other half's figures are then missing. `file` and `tls` narrow the file half further to our
 * transfer or to the node:tls copy alone, so that a profile holds one contender.
 *
 * Set-up: Alice's agent runs in this process, Bob's in a child process (this file, role `bob`);
 * both are complete agents (AgentLive, SQLite store in WAL with `synchronous = FULL`, file
 * transfers, node:crypto) talking over loopback TCP; a static Directory stands in for the IRP.
 * The anchors run in the same run, interleaved with our figures round by round so that a busy
 * neighbour on a shared machine weighs on both: the raw inserts here (better-sqlite3, the same
 * schema and commit pattern); the node:tls copy (`agentTlsCopy.ts`: streamed with SHA-256, written,
 * hashed, synced and placed by Bob's process); the channel's bulk rate (64 KiB data records) from this process to a
 * bare channel server in Bob's process, i.e. between the same two processes as the file transfer,
 * with the same heaps and garbage collector. For reference, the same bulk to `npm run bench`'s small
 * channel server process (`server.js`) is reported too.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { type Handle, makeAddress } from "../src/domain/brands.js"
import { sha256MsPerMiB } from "./agentCeiling.js"
import {
  burst,
  type FileRun,
  MESSAGE_BODY,
  type MessageRun,
  makeTracker,
  paced,
  sendFile,
  writeRandomFile
} from "./agentMeasure.js"
import { PeerProcess, runPeer } from "./agentPeer.js"
import { openRawAnchor } from "./agentRaw.js"
import { type AgentResults, printAgentTable, toAgentJson } from "./agentReport.js"
import { tlsCopy } from "./agentTlsCopy.js"
import { startBenchAgent } from "./agentWorld.js"
import { runMain } from "./common.js"
import { machine } from "./machine.js"
import { bulk, channelsFor } from "./ours.js"
import { makeBenchPki, removePki, savePki } from "./pki.js"
import { type CpuTime, ServerProcess } from "./processes.js"

const MiB = 1024 * 1024

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

const cpuNow = (): CpuTime => {
  const c = process.cpuUsage()
  return { user: c.user, system: c.system }
}
const cpuSpent = (a: CpuTime, b: CpuTime): number => b.user - a.user + (b.system - a.system)

const planFor = (quick: boolean) =>
  quick
    ? { rounds: 3, messages: 800, warmMessages: 400, latency: 200, fileBytes: 64 * MiB, fileRounds: 3 }
    : { rounds: 5, messages: 3000, warmMessages: 2000, latency: 2000, fileBytes: 256 * MiB, fileRounds: 5 }
export type Plan = ReturnType<typeof planFor>

const main = async (): Promise<void> => {
  const args = new Set(process.argv.slice(2))
  const quick = args.has("--quick")
  const json = args.has("--json")
  const only = [...args].find((a) => a.startsWith("--only="))?.slice("--only=".length)
  const doMessages = only === undefined || only === "messages"
  const doFiles = only === undefined || only === "files" || only === "file" || only === "tls"
  const doOurFile = only !== "tls"
  const doTls = only !== "file"
  const doBulk = only !== "file" && only !== "tls"
  // `--file-mib=N` sends N MiB files instead (diagnosis: small files weigh the per-transfer costs).
  const fileMiB = [...args].find((a) => a.startsWith("--file-mib="))?.slice("--file-mib=".length)
  const plan = fileMiB === undefined ? planFor(quick) : { ...planFor(quick), fileBytes: Number(fileMiB) * MiB }
  const started = performance.now()
  const host = machine()
  const pki = makeBenchPki()
  const pkiPath = savePki(pki)
  const aliceHome = join(pki.dir, "alice")
  const bobHome = join(pki.dir, "bob")
  mkdirSync(aliceHome, { mode: 0o700 })
  mkdirSync(bobHome, { mode: 0o700 })
  const bobHandle = pki.server.handle as Handle
  let peer: PeerProcess | undefined
  let channelServer: ServerProcess | undefined
  try {
    peer = await PeerProcess.start(pkiPath, bobHome, bobHandle)
    channelServer = await ServerProcess.start("ours-node", pkiPath, 0)
    const bob = peer
    const smallServer = makeAddress("127.0.0.1", channelServer.port)
    const bobChannel = makeAddress("127.0.0.1", bob.channelPort)
    const program = Effect.gen(function* () {
      const alice = yield* startBenchAgent({
        identity: pki.client,
        anchors: [pki.caDer],
        home: aliceHome,
        peers: new Map([[bobHandle, [makeAddress("127.0.0.1", bob.port)]]])
      })
      const tracker = yield* makeTracker(alice.agent)
      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => openRawAnchor(pki.dir, bobHandle)),
        (r) => Effect.sync(r.close)
      )
      const { channels } = yield* channelsFor({
        provider: "node",
        identity: pki.client,
        anchors: [pki.caDer],
        signatureCacheSize: 0
      })
      const file = join(aliceHome, "payload.bin")
      yield* Effect.promise(() => writeRandomFile(file, plan.fileBytes))

      progress("warm-up: messages, raw inserts, files, channel bulk")
      if (doMessages) {
        yield* burst(alice.agent, tracker, bob, plan.warmMessages)
        raw.insert(plan.warmMessages, MESSAGE_BODY)
        yield* paced(alice.agent, tracker, bob, 100)
      }
      if (doFiles) {
        if (doOurFile) {
          yield* sendFile(alice.agent, tracker, bobHandle, file, plan.fileBytes)
          yield* Effect.promise(() => bob.clean())
        }
        if (doTls) {
          yield* Effect.promise(() => tlsCopy(bob.tlsPort, pki, file, plan.fileBytes))
          yield* Effect.promise(() => bob.clean())
        }
        if (doBulk) {
          yield* bulk(channels, bobChannel, pki.server.handle, plan.fileBytes)
          yield* bulk(channels, smallServer, pki.server.handle, plan.fileBytes)
        }
      }

      const ours: Array<MessageRun> = []
      const rawMs: Array<number> = []
      let cpuAliceUs = 0
      let cpuBobUs = 0
      for (let round = 0; doMessages && round < plan.rounds; round++) {
        progress(`messages round ${round + 1}/${plan.rounds}`)
        const runRaw = Effect.sync(() => rawMs.push(raw.insert(plan.messages, MESSAGE_BODY)))
        const runOurs = Effect.gen(function* () {
          const [a0, b0] = [cpuNow(), yield* Effect.promise(() => bob.cpu())]
          ours.push(yield* burst(alice.agent, tracker, bob, plan.messages))
          const [a1, b1] = [cpuNow(), yield* Effect.promise(() => bob.cpu())]
          cpuAliceUs += cpuSpent(a0, a1)
          cpuBobUs += cpuSpent(b0, b1)
        })
        // A different order each round: neither always runs first.
        if (round % 2 === 0) yield* Effect.zipRight(runRaw, runOurs)
        else yield* Effect.zipRight(runOurs, runRaw)
      }

      progress(`latency: ${plan.latency} messages, one at a time`)
      const latency = doMessages
        ? yield* paced(alice.agent, tracker, bob, plan.latency)
        : { count: 0, ms: 0, latenciesUs: [] }

      const files: Array<FileRun> = []
      const channelMs: Array<number> = []
      const smallServerMs: Array<number> = []
      const tlsMs: Array<number> = []
      const fileCpu = { alice: 0, bob: 0 }
      const tlsCpu = { alice: 0, bob: 0 }
      const channelCpu = { client: 0, server: 0 }
      const hashMsPerMiB: Array<number> = []
      for (let round = 0; doFiles && round < plan.fileRounds; round++) {
        progress(`files round ${round + 1}/${plan.fileRounds}`)
        const runFile = Effect.gen(function* () {
          const [a0, b0] = [cpuNow(), yield* Effect.promise(() => bob.cpu())]
          files.push(yield* sendFile(alice.agent, tracker, bobHandle, file, plan.fileBytes))
          const [a1, b1] = [cpuNow(), yield* Effect.promise(() => bob.cpu())]
          fileCpu.alice += cpuSpent(a0, a1)
          fileCpu.bob += cpuSpent(b0, b1)
          yield* Effect.promise(() => bob.clean())
        })
        const runChannel = Effect.gen(function* () {
          const [c0, s0] = [cpuNow(), yield* Effect.promise(() => bob.cpu())]
          channelMs.push((yield* bulk(channels, bobChannel, pki.server.handle, plan.fileBytes)).ms)
          const [c1, s1] = [cpuNow(), yield* Effect.promise(() => bob.cpu())]
          channelCpu.client += cpuSpent(c0, c1)
          channelCpu.server += cpuSpent(s0, s1)
        })
        const runSmall = Effect.map(bulk(channels, smallServer, pki.server.handle, plan.fileBytes), (r) =>
          smallServerMs.push(r.ms)
        )
        const runTls = Effect.gen(function* () {
          const [a0, b0] = [cpuNow(), yield* Effect.promise(() => bob.cpu())]
          tlsMs.push((yield* Effect.promise(() => tlsCopy(bob.tlsPort, pki, file, plan.fileBytes))).ms)
          const [a1, b1] = [cpuNow(), yield* Effect.promise(() => bob.cpu())]
          tlsCpu.alice += cpuSpent(a0, a1)
          tlsCpu.bob += cpuSpent(b0, b1)
          yield* Effect.promise(() => bob.clean())
        })
        // A different order each round: none always runs first or right after another.
        const runHash = Effect.sync(() => hashMsPerMiB.push(sha256MsPerMiB()))
        // Ours and the node:tls copy swap places every other round (each follows the other as often).
        const order =
          round % 2 === 0
            ? [runChannel, runFile, runTls, runSmall, runHash]
            : [runChannel, runTls, runFile, runSmall, runHash]
        const skipped = new Set([
          ...(doOurFile ? [] : [runFile]),
          ...(doTls ? [] : [runTls]),
          ...(doBulk ? [] : [runChannel, runSmall])
        ])
        for (let i = 0; i < order.length; i++) {
          const run = order[(i + round) % order.length]!
          if (!skipped.has(run)) yield* run
        }
      }
      return {
        ours,
        rawMs,
        cpuAliceUs,
        cpuBobUs,
        latency,
        files,
        channelMs,
        smallServerMs,
        tlsMs,
        fileCpu,
        tlsCpu,
        channelCpu,
        hashMsPerMiB
      }
    }).pipe(Effect.scoped)
    const measured = await Effect.runPromise(program)
    const results: AgentResults = {
      mode: quick ? "quick" : "full",
      machine: host,
      plan,
      ...measured,
      seconds: (performance.now() - started) / 1000
    }
    if (json) process.stdout.write(`${JSON.stringify(toAgentJson(results))}\n`)
    else printAgentTable(results)
  } finally {
    await peer?.stop()
    channelServer?.stop()
    removePki(pki)
  }
}

const role = process.argv[2]
if (role === "bob") {
  const [pkiPath, home] = process.argv.slice(3) as [string, string]
  runPeer(pkiPath, home).catch((e: unknown) => {
    process.send?.({ type: "error", message: String((e as Error)?.stack ?? e) })
    process.exit(1)
  })
} else {
  runMain("bench:agent", main)
}
