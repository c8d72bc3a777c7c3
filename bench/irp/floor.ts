/**
 * The floor of this design, measured beside the anchor (`bench:irp`'s `floor` figures): a Lookup server
 * and client that do only the work the protocol itself requires of every request, as plain callbacks on
 * `node:net` sockets, with none of the product's machinery.
 *
 * Per request it does what our server and client do: our framing (`FrameDecoder`), our record protection
 * (AES-256-GCM through the node:crypto provider, one record each way), our XML parser and the IRP codecs
 * (schema checks included), the registry's own synchronous SQLite read (`currentIdentityNow`, the same
 * statement on the same kind of file), the LookupResult writer, one socket write each way. What it leaves
 * out: the handshake (it runs once per connection: both ends start from fixed traffic keys), the Effect
 * runtime, rate limits, revocation and expiry checks, the access table, the request log, the client's
 * request multiplexer and time-outs. It is an instrument, not a server: loopback only, it trusts its
 * peer, and any failure ends the connection.
 *
 * Why it exists: the anchor is Node's TLS, whose record layer and parsing run in C++ (OpenSSL) and whose
 * server answers a fixed reply without reading the request. The floor says how much of the distance to
 * it is our product's doing and how much is the protocol's own work on this stack.
 */
import { randomBytes } from "node:crypto"
import * as Net from "node:net"
import { Either } from "effect"
import type { Handle } from "../../src/domain/brands.js"
import { FrameDecoder, RECORD_FRAME_LIMIT } from "../../src/domain/channel/framing.js"
import { trafficKeys } from "../../src/domain/channel/keySchedule.js"
import { ContentType, RecordProtection } from "../../src/domain/channel/record.js"
import type { IrpRequest, IrpServerMessage } from "../../src/domain/irp/messages.js"
import { irpClientCodec, irpServerCodec } from "../../src/domain/irp/xml.js"
import { monotonicUlids } from "../../src/domain/ulid.js"
import { parseXml } from "../../src/domain/xml/parse.js"
import { aead, hashing } from "../../src/layers/crypto/NodeCrypto.js"
import { bindingInfo, lookupResult } from "../../src/layers/irp/server/lookup.js"
import type { IrpRegistryService } from "../../src/services/IrpRegistry.js"

/** Both ends' traffic keys, as a completed handshake would have left them (one secret per direction). */
const keysOf = (direction: number) => trafficKeys(hashing, new Uint8Array(32).fill(direction))
const TO_SERVER = 1
const TO_CLIENT = 2

/** Calls `onRecord` with each opened record's content; `false` once the stream is unusable. */
const recordReader = (read: RecordProtection, onRecord: (content: Uint8Array) => void) => {
  const frames = new FrameDecoder(RECORD_FRAME_LIMIT)
  return (chunk: Uint8Array): boolean => {
    frames.push(chunk)
    for (let frame = frames.next(); frame !== undefined; frame = frames.next()) {
      if (!(frame instanceof Uint8Array)) return false
      const opened = read.open(frame)
      if (opened === null || opened.type !== ContentType.Xml) return false
      onRecord(opened.content)
    }
    return true
  }
}

/** Listens on 127.0.0.1 (any port) and answers Lookups from `registry`'s synchronous read. */
export const floorServer = (registry: IrpRegistryService, issuerChain: ReadonlyArray<Uint8Array>): Promise<number> => {
  const readNow = registry.currentIdentityNow
  if (readNow === undefined) return Promise.reject(new Error("the floor needs a registry with synchronous reads"))
  const server = Net.createServer((socket) => {
    socket.setNoDelay(true)
    const write = new RecordProtection(aead, keysOf(TO_CLIENT))
    const answer = (content: Uint8Array): void => {
      const root = parseXml(content)
      const request = Either.isRight(root) ? irpServerCodec.decode(root.right) : undefined
      if (request === undefined || Either.isLeft(request) || request.right._tag !== "irp.Lookup")
        throw new Error("the floor answers Lookups only")
      const { id, handle } = request.right
      const found = readNow({ handle, now: Date.now() })
      if (found?.certificate === undefined) throw new Error(`no current certificate for ${handle}`)
      const doc = irpServerCodec.encode(
        lookupResult(id, handle, {
          status: "good",
          chain: [found.certificate.der, ...issuerChain],
          bindings: found.bindings.map(bindingInfo)
        })
      )
      socket.write(write.seal(ContentType.Xml, doc))
    }
    const onChunk = recordReader(new RecordProtection(aead, keysOf(TO_SERVER)), answer)
    socket.on("data", (chunk: Buffer) => {
      try {
        if (!onChunk(chunk)) socket.destroy()
      } catch {
        socket.destroy()
      }
    })
    socket.on("error", () => socket.destroy())
  })
  return new Promise((resolve, reject) => {
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => resolve((server.address() as Net.AddressInfo).port))
  })
}

type LookupResult = Extract<IrpServerMessage, { readonly _tag: "irp.LookupResult" }>

export interface FloorConnection {
  /** Sends one Lookup for `handle`; resolves with its LookupResult once it has arrived and decoded. */
  readonly lookup: (handle: Handle) => Promise<LookupResult>
  readonly close: () => void
}

/** One floor client connection: one request outstanding at a time, as the benchmark's loops use it. */
export const connectFloor = (port: number): Promise<FloorConnection> =>
  new Promise((resolve, reject) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.setNoDelay(true)
    const write = new RecordProtection(aead, keysOf(TO_SERVER))
    // Request ids as our client draws them: monotonic ULIDs, one random draw per millisecond.
    const newId = monotonicUlids(() => new Uint8Array(randomBytes(10)))
    let waiting: { resolve: (answer: LookupResult) => void; reject: (e: Error) => void } | undefined
    const settle = (outcome: LookupResult | Error) => {
      const w = waiting
      waiting = undefined
      if (outcome instanceof Error) w?.reject(outcome)
      else w?.resolve(outcome)
    }
    const onChunk = recordReader(new RecordProtection(aead, keysOf(TO_CLIENT)), (content) => {
      const root = parseXml(content)
      const answer = Either.isRight(root) ? irpClientCodec.decode(root.right) : undefined
      if (answer === undefined || Either.isLeft(answer) || answer.right._tag !== "irp.LookupResult")
        return settle(new Error("the floor server did not answer with a LookupResult"))
      settle(answer.right)
    })
    socket.on("data", (chunk: Buffer) => {
      if (!onChunk(chunk)) settle(new Error("the floor server sent an unreadable record"))
    })
    socket.on("error", (e) => {
      settle(e)
      reject(e)
    })
    socket.on("close", () => settle(new Error("the floor server closed the connection")))
    socket.once("connect", () =>
      resolve({
        lookup: (handle) =>
          new Promise((ok, fail) => {
            waiting = { resolve: ok, reject: fail }
            const request: IrpRequest = { _tag: "irp.Lookup", id: newId(Date.now()), handle }
            socket.write(write.seal(ContentType.Xml, irpClientCodec.encode(request)))
          }),
        close: () => socket.destroy()
      })
    )
  })
