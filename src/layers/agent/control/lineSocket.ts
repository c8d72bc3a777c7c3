/**
 * Newline-delimited UTF-8 text over a `node:net` socket, with bounds (issue 4, section 1: "a line over
 * 1 MiB or invalid UTF-8 ends only that connection"):
 * * a line longer than `maxLineBytes` (found as soon as that many bytes arrived without a newline)
 *   or one that is not valid UTF-8 is a fault, reported once by `next`;
 * * decoded lines wait in a small queue; past `highWater` the socket is paused (back-pressure onto
 *   the peer) until the reader catches up;
 * * `write` refuses (and destroys the socket) when more than `maxPendingWriteBytes` already wait in
 *   the kernel and Node buffers: a peer that does not read is cut off instead of growing memory.
 * A trailing `\r` is dropped; empty lines are skipped.
 */
import type * as Net from "node:net"
import { Effect } from "effect"

export type LineFault = "TooLong" | "BadUtf8" | "Error"

export interface LineSocketOptions {
  readonly maxLineBytes: number
  readonly maxPendingWriteBytes: number
  /** Decoded lines queued before the socket is paused (default 32). */
  readonly highWater?: number
}

const NEWLINE = 0x0a

/** Splits a byte stream into bounded, strictly decoded lines. */
export class LineFramer {
  private pending: Array<Buffer> = []
  private pendingBytes = 0
  private readonly decoder = new TextDecoder("utf-8", { fatal: true })

  constructor(private readonly maxLineBytes: number) {}

  /** The complete lines in `chunk` (with what came before), or the fault that ends the stream. */
  push(chunk: Buffer): { readonly lines: ReadonlyArray<string>; readonly fault?: LineFault } {
    const lines: Array<string> = []
    let start = 0
    for (let nl = chunk.indexOf(NEWLINE, start); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl)
      start = nl + 1
      const bytes = this.pendingBytes === 0 ? piece : Buffer.concat([...this.pending, piece])
      this.pending = []
      this.pendingBytes = 0
      const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length
      if (end > this.maxLineBytes) return { lines, fault: "TooLong" }
      if (end === 0) continue
      try {
        lines.push(this.decoder.decode(bytes.subarray(0, end)))
      } catch {
        return { lines, fault: "BadUtf8" }
      }
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start))
      this.pendingBytes += chunk.length - start
      // +1: a line of exactly the limit may still be followed by its `\r`.
      if (this.pendingBytes > this.maxLineBytes + 1) return { lines, fault: "TooLong" }
    }
    return { lines }
  }
}

type Waiter = (result: Effect.Effect<string | undefined, LineFault>) => void

/** A socket read line by line (`next`) and written line by line (`write`). */
export class LineSocket {
  private readonly framer: LineFramer
  private readonly queue: Array<string> = []
  private waiter: Waiter | undefined
  private ended = false
  private fault: LineFault | undefined
  private paused = false
  private readonly highWater: number

  constructor(
    readonly socket: Net.Socket,
    private readonly options: LineSocketOptions
  ) {
    this.framer = new LineFramer(options.maxLineBytes)
    this.highWater = options.highWater ?? 32
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("end", () => this.finish(undefined))
    socket.on("close", () => this.finish(undefined))
    socket.on("error", () => this.finish("Error"))
  }

  /** The next line; `undefined` at the end of the stream; fails with the fault that ended it. */
  readonly next: Effect.Effect<string | undefined, LineFault> = Effect.async<string | undefined, LineFault>(
    (resume) => {
      const line = this.queue.shift()
      if (line !== undefined) {
        if (this.paused && this.queue.length <= this.highWater / 2) {
          this.paused = false
          this.socket.resume()
        }
        return resume(Effect.succeed(line))
      }
      if (this.fault !== undefined) return resume(Effect.fail(this.fault))
      if (this.ended) return resume(Effect.succeed(undefined))
      this.waiter = resume
      return Effect.sync(() => {
        if (this.waiter === resume) this.waiter = undefined
      })
    }
  )

  /** Completes once the socket is fully closed (both directions). */
  readonly closed: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.socket.closed) return resume(Effect.void)
    const onClose = () => resume(Effect.void)
    this.socket.once("close", onClose)
    return Effect.sync(() => this.socket.off("close", onClose))
  })

  /** Writes one line (a newline is added); `false` when the socket is gone or was cut off for not reading. */
  write(line: string): boolean {
    const socket = this.socket
    if (socket.destroyed || !socket.writable) return false
    if (socket.writableLength > this.options.maxPendingWriteBytes) {
      socket.destroy()
      return false
    }
    socket.write(`${line}\n`)
    return true
  }

  /** Half-closes after the queued writes, then closes. */
  close(): void {
    if (!this.socket.destroyed) this.socket.destroySoon()
  }

  destroy(): void {
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    if (this.fault !== undefined || this.ended) return
    const { lines, fault } = this.framer.push(chunk)
    for (const line of lines) this.queue.push(line)
    if (fault !== undefined) {
      this.fault = fault
      this.socket.pause()
    } else if (!this.paused && this.queue.length >= this.highWater) {
      this.paused = true
      this.socket.pause()
    }
    this.wake()
  }

  private finish(fault: LineFault | undefined): void {
    if (fault !== undefined && this.fault === undefined && !this.ended) this.fault = fault
    this.ended = true
    this.wake()
  }

  private wake(): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    this.waiter = undefined
    const line = this.queue.shift()
    if (line !== undefined) waiter(Effect.succeed(line))
    else if (this.fault !== undefined) waiter(Effect.fail(this.fault))
    else if (this.ended) waiter(Effect.succeed(undefined))
    else this.waiter = waiter
  }
}
