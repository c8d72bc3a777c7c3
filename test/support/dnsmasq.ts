/**
 * A real DNS server on loopback for the federation discovery tests (issue 14, section 1): Debian's
 * `dnsmasq` (package dnsmasq-base), authoritative for `*.test` (`--local=/test/`, so unknown names get
 * NXDOMAIN / NODATA rather than REFUSED), serving the SRV and address records a test gives it, logging
 * every query on stderr (`--log-queries --log-facility=-`) so a test can count what was asked.
 *
 * When dnsmasq is not installed the suites skip with a console message, unless
 * `SIXCHAT_REQUIRE_DNSMASQ=1` (CI sets it): then `requireDnsmasqTest` registers a failing test.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createSocket, type Socket } from "node:dgram"
import { existsSync } from "node:fs"
import { it } from "vitest"

const candidates = ["dnsmasq", "/usr/sbin/dnsmasq", "/sbin/dnsmasq"]
export const DNSMASQ: string | undefined = candidates.find(
  (c) => (c.includes("/") ? existsSync(c) : true) && spawnSync(c, ["--version"], { encoding: "utf8" }).status === 0
)
export const requireDnsmasq = process.env.SIXCHAT_REQUIRE_DNSMASQ === "1"
export const missingMessage =
  "dnsmasq is not installed (apt-get install dnsmasq-base) — skipping the DNS discovery tests; " +
  "set SIXCHAT_REQUIRE_DNSMASQ=1 to make this a failure"

if (DNSMASQ === undefined && !requireDnsmasq) console.warn(missingMessage)

/** Registers a test that fails when dnsmasq is required but missing (call at the top of a test file). */
export const requireDnsmasqTest = (): void => {
  if (DNSMASQ === undefined && requireDnsmasq)
    it("dnsmasq is installed (SIXCHAT_REQUIRE_DNSMASQ=1)", () => {
      throw new Error("dnsmasq is not installed, and SIXCHAT_REQUIRE_DNSMASQ=1: apt-get install -y dnsmasq-base")
    })
}

/** A free UDP port on 127.0.0.1 (bound then released; dnsmasq's start is retried if it was taken). */
const freeUdpPort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createSocket("udp4")
    s.once("error", reject)
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

export interface Dnsmasq {
  /** `127.0.0.1:PORT`, for `--dns` / `SIXCHAT_DNS`. */
  readonly server: string
  /** Everything dnsmasq logged so far. */
  readonly log: () => string
  /** How many queries of `type` (SRV, A, AAAA) for `name` it received. */
  readonly queries: (type: string, name: string) => number
  /** Kills the process (by its PID) and waits for it to exit. */
  readonly stop: () => Promise<void>
}

const startOnce = (args: ReadonlyArray<string>, port: number) =>
  new Promise<Dnsmasq>((resolve, reject) => {
    const child: ChildProcess = spawn(
      DNSMASQ!,
      [
        "--keep-in-foreground",
        "--no-daemon",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        `--port=${port}`,
        "--pid-file=",
        "--log-queries",
        "--log-facility=-",
        "--local=/test/",
        ...(process.getuid?.() === 0 ? ["--user=root", "--group=root"] : []),
        ...args
      ],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let log = ""
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`dnsmasq did not start within 10 s: ${log}`))
    }, 10_000)
    const onData = (d: Buffer) => {
      log += d.toString("utf8")
      if (/started, version/.test(log)) {
        clearTimeout(timer)
        resolve({
          server: `127.0.0.1:${port}`,
          log: () => log,
          queries: (type, name) => log.split("\n").filter((l) => l.includes(`query[${type}] ${name} from`)).length,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
            await exited
          }
        })
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`dnsmasq exited (${code}) before it started: ${log}`))
    })
  })

/** Starts dnsmasq on a free loopback port with the given record options (`--srv-host=…`, `--host-record=…`). */
export const startDnsmasq = async (records: ReadonlyArray<string>): Promise<Dnsmasq> => {
  let last: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(records, await freeUdpPort())
    } catch (e) {
      last = e
    }
  }
  throw last
}

/** A UDP socket on loopback that reads every query and never answers: a DNS server that is down. */
export const startSilentServer = () =>
  new Promise<{ readonly server: string; readonly received: () => number; readonly close: () => Promise<void> }>(
    (resolve, reject) => {
      let received = 0
      const s: Socket = createSocket("udp4")
      s.on("message", () => {
        received++
      })
      s.once("error", reject)
      s.bind(0, "127.0.0.1", () =>
        resolve({
          server: `127.0.0.1:${s.address().port}`,
          received: () => received,
          close: () => new Promise<void>((done) => s.close(() => done()))
        })
      )
    }
  )
