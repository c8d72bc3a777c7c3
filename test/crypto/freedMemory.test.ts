/**
 * The node:crypto provider keeps freed record memory in glibc's heap once a process moves large records
 * (NodeCrypto.ts, `keepFreedMemory`; docs/DECISIONS.md): the first record of 16 KiB or more allocates one
 * unused 16 MiB buffer, whose release raises glibc's trim threshold for the process's life. Small records
 * (messages, handshakes) never do it, so a process that only holds idle connections keeps giving freed
 * memory back. Checked in a fresh process on the built `dist/` (run `npm run build` first), because the
 * setting is once per process; the buffer shows in `process.memoryUsage().arrayBuffers` until collected.
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const provider = fileURLToPath(new URL("../../dist/layers/crypto/NodeCrypto.js", import.meta.url))

const script = `
const { aead } = await import(${JSON.stringify(provider)})
const key = aead.importKey(new Uint8Array(32).fill(1))
const nonce = new Uint8Array(12)
const header = new Uint8Array(4)
const sealOpen = (size) => {
  const content = new Uint8Array(size).fill(7)
  const opened = key.open(nonce, key.seal(nonce, content, header), header)
  if (opened === null || opened.length !== size || opened[size - 1] !== 7) throw new Error("did not open")
}
const parts = (size) => {
  const [, body, tail] = key.sealParts(nonce, header, new Uint8Array(size).fill(7), 2)
  const sealed = new Uint8Array(body.length + tail.length)
  sealed.set(body)
  sealed.set(tail, body.length)
  const opened = key.open(nonce, sealed, header)
  if (opened === null || opened.length !== size + 1 || opened[size] !== 2) throw new Error("parts did not open")
}
const held = () => process.memoryUsage().arrayBuffers
const a0 = held()
for (let i = 0; i < 100; i++) sealOpen(1024)
// 16 KiB - 1 sealed (content, 16-byte tag): just under the trigger.
sealOpen(16 * 1024 - 17)
const a1 = held()
__WHICH__(64 * 1024)
const a2 = held()
__WHICH__(64 * 1024)
const a3 = held()
console.log(JSON.stringify({ small: a1 - a0, first: a2 - a1, second: a3 - a2 }))
`

const run = (which: "sealOpen" | "parts") => {
  const out = spawnSync(process.execPath, ["--input-type=module", "-e", script.replaceAll("__WHICH__", which)], {
    encoding: "utf8"
  })
  if (out.status !== 0) throw new Error(out.stderr)
  return JSON.parse(out.stdout.trim()) as { small: number; first: number; second: number }
}

const MiB = 1024 * 1024

describe("freed record memory", () => {
  it("is kept from the first large record on (open), not for small ones, and only once", () => {
    const r = run("sealOpen")
    expect(r.small).toBeLessThan(4 * MiB)
    expect(r.first).toBeGreaterThanOrEqual(16 * MiB)
    expect(r.second).toBeLessThan(4 * MiB)
  })

  it("is kept from the first large record sealed in parts (the data path)", () => {
    const r = run("parts")
    expect(r.small).toBeLessThan(4 * MiB)
    expect(r.first).toBeGreaterThanOrEqual(16 * MiB)
    expect(r.second).toBeLessThan(4 * MiB)
  })
})
