/**
 * The receiver's background sync (issue 15, `partialFile.ts`): once `SYNC_AHEAD_BYTES` were written
 * to a partial file, its data is synced in the background while more arrives; `syncAll` waits for
 * it and syncs the rest. A background sync that failed fails `syncAll` even when the final sync
 * succeeds (Linux reports a write-back error to one `fsync` only).
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as fs from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import type { IncomingTransfer } from "../../../src/domain/agent/transfers.js"
import type { Handle, Id } from "../../../src/domain/brands.js"
import type { PeerLink } from "../../../src/layers/agent/core/plugin.js"
import {
  idleReceiving,
  makeWriter,
  type Receiving,
  SYNC_AHEAD_BYTES,
  syncAll,
  WRITE_BUFFER_BYTES
} from "../../../src/layers/agent/files/partialFile.js"
import type { AgentStoreService } from "../../../src/services/AgentStore.js"

const dir = mkdtempSync(join(tmpdir(), "sixchat-syncahead-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The writer reports progress to the store; these tests look at the file, so the store only counts. */
const progress: Array<number> = []
const store = {
  fileProgress: (input: { readonly offset: number }) => Effect.sync(() => void progress.push(input.offset))
} as unknown as AgentStoreService
const { flushInBackground, flush } = makeWriter(store)

const receiving = async (name: string): Promise<Receiving> => {
  const tempPath = join(dir, name)
  const handle = await fs.open(tempPath, "w+")
  const transfer = { id: name as Id, peer: "alice@example.org" as Handle, tempPath } as unknown as IncomingTransfer
  return {
    ref: { direction: "in", peer: transfer.peer, id: transfer.id },
    transfer,
    channel: undefined as unknown as PeerLink["channel"],
    handle,
    hash: createHash("sha256"),
    offset: 0,
    written: 0,
    ...idleReceiving
  }
}

/** Fills the active buffer with the next MiB of `bytes` and writes it, as the receiver does. */
const writeMiB = (r: Receiving, bytes: Uint8Array, at: number) =>
  Effect.runPromise(
    Effect.suspend(() => {
      r.buffers ??= [new Uint8Array(WRITE_BUFFER_BYTES), new Uint8Array(WRITE_BUFFER_BYTES)]
      const part = bytes.subarray(at, at + WRITE_BUFFER_BYTES)
      r.buffers[r.active].set(part)
      r.pendingLength = part.length
      r.offset += part.length
      return flushInBackground(r)
    })
  )

describe("background sync of a partial file", () => {
  it("starts once SYNC_AHEAD_BYTES were written, one at a time; syncAll leaves every byte in the file", async () => {
    const r = await receiving("ahead.bin")
    const bytes = randomBytes(SYNC_AHEAD_BYTES * 2 + 12_345)
    let started = 0
    const datasync = r.handle.datasync.bind(r.handle)
    r.handle.datasync = () => {
      started++
      return datasync()
    }
    try {
      for (let at = 0; at + WRITE_BUFFER_BYTES <= SYNC_AHEAD_BYTES - WRITE_BUFFER_BYTES; at += WRITE_BUFFER_BYTES)
        await writeMiB(r, bytes, at)
      // One buffer written less than SYNC_AHEAD_BYTES (the last is still being written): none yet.
      expect(started).toBe(0)
      for (let at = SYNC_AHEAD_BYTES - WRITE_BUFFER_BYTES; at < bytes.length; at += WRITE_BUFFER_BYTES)
        await writeMiB(r, bytes, at)
      expect(started).toBeGreaterThanOrEqual(1)
      expect(started).toBeLessThanOrEqual(2)
      await Effect.runPromise(flush(r))
      await syncAll(r)
      expect(r.syncing).toBeUndefined()
      expect(r.written).toBe(bytes.length)
      expect(Buffer.compare(readFileSync(r.transfer.tempPath), bytes)).toBe(0)
    } finally {
      await r.handle.close()
    }
  })

  it("a background sync that failed fails syncAll, though the last sync succeeds", async () => {
    const r = await receiving("failed.bin")
    const bytes = randomBytes(SYNC_AHEAD_BYTES + WRITE_BUFFER_BYTES)
    r.handle.datasync = () => Promise.reject(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }))
    try {
      for (let at = 0; at < bytes.length; at += WRITE_BUFFER_BYTES) await writeMiB(r, bytes, at)
      await Effect.runPromise(flush(r))
      await expect(syncAll(r)).rejects.toMatchObject({ code: "EIO" })
      // The file itself is fine (only the simulated sync failed): the transfer must still fail.
      expect(readFileSync(r.transfer.tempPath).length).toBe(bytes.length)
    } finally {
      await r.handle.close()
    }
  })
})
