/**
 * The certificate copies' cost under a uniform spread of serials (issue 15, `scale_ratio`), in a process of
 * its own: N Lookup answers (`certificateCopies.ts`' `shared` on a fresh DER copy, as every registry read
 * hands over, then the `<LookupResult>` document), serials drawn uniformly from POPULATION. Prints CPU per
 * answer and the garbage collections seen. One build per process: two builds' copies in one process
 * would share one heap, so each would pay for the other's garbage (`lookupRead.js`' `answerBase` cannot
 * show this cost). Run it for this build and for another (COPIES_JS, its `certificateCopies.js`) in turn.
 *
 *     node dist-bench/bench/irp/copiesChurn.js [N=300000] [POPULATION=100000] [COPIES_JS]
 */
import { constants, PerformanceObserver } from "node:perf_hooks"
import { encodeIrp } from "../../src/domain/irp/xml.js"
import type { makeCertificateCopies } from "../../src/layers/irp/server/certificateCopies.js"

const [nArg = "300000", populationArg = "100000", copiesJs = "../../src/layers/irp/server/certificateCopies.js"] =
  process.argv.slice(2)
const N = Number(nArg)
const POPULATION = Number(populationArg)

const main = async () => {
  const copies = (
    (await import(copiesJs)) as { makeCertificateCopies: typeof makeCertificateCopies }
  ).makeCertificateCopies(4096)
  // A certificate-sized DER; every read hands over its own copy, as the registry's reads do.
  const der = new Uint8Array(1200).map((_, i) => (i * 7) & 255)
  const gcs = { minor: 0, major: 0 }
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++
      else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++
    }
  })
  observer.observe({ entryTypes: ["gc"] })
  const start = process.cpuUsage()
  let bytes = 0
  for (let i = 0; i < N; i++) {
    const serial = (1_000_000 + Math.floor(Math.random() * POPULATION)).toString(16)
    bytes += encodeIrp({
      _tag: "irp.LookupResult",
      id: "01HZY0000000000000000000AA" as never,
      handle: "u0000001@example.org" as never,
      status: "good",
      chain: [copies.shared(serial, der.slice())],
      bindings: []
    }).length
  }
  const cpu = process.cpuUsage(start)
  // The observer hears of the last collections on a later turn.
  await new Promise((resolve) => setTimeout(resolve, 100))
  observer.disconnect()
  const cpuMicrosPerAnswer = Math.round(((cpu.user + cpu.system) / N) * 100) / 100
  process.stdout.write(`${JSON.stringify({ copies: copiesJs, N, POPULATION, cpuMicrosPerAnswer, ...gcs, bytes })}\n`)
}

main().catch((e: unknown) => {
  process.stderr.write(`copiesChurn failed: ${String(e)}\n`)
  process.exit(1)
})
