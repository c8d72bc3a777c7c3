/**
 * The machine a benchmark ran on: CPU model and cores, Node and OpenSSL versions, load.
 */
import * as Os from "node:os"

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly node: string
  readonly openssl: string
  readonly platform: string
  readonly memoryGiB: number
  /** 1-minute load average when the run started (the machine may be shared). */
  readonly loadAverage: number
}

export const machine = (): Machine => {
  const cpus = Os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: Os.availableParallelism(),
    node: process.version,
    openssl: process.versions.openssl ?? "unknown",
    platform: `${Os.platform()} ${Os.release()} ${Os.arch()}`,
    memoryGiB: Math.round((Os.totalmem() / 1024 ** 3) * 10) / 10,
    loadAverage: Math.round(Os.loadavg()[0]! * 100) / 100
  }
}
