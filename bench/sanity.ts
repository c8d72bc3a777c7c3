/**
 * Before measuring: both systems really authenticate with the benchmark certificates. node:tls
 * must negotiate TLS 1.3 and refuse a client certificate from another CA and a server that is not
 * the handle dialed; our channel must refuse the same two. A failed check aborts the benchmark.
 */
import type * as Tls from "node:tls"
import { Effect } from "effect"
import { makeAddress } from "../src/domain/brands.js"
import { type Channels, channelsFor, refusedReason } from "./ours.js"
import type { BenchPki } from "./pki.js"
import { connectStream, tlsRefused } from "./streams.js"

export interface Sanity {
  readonly tls: {
    readonly protocol: string
    readonly cipher: string
    readonly group: string
    readonly peer: string
    readonly rogueClientRefused: string
    readonly wrongPeerRefused: string
  }
  readonly ours: {
    readonly suite: string
    readonly peer: string
    readonly rogueClientRefused: string
    readonly wrongPeerRefused: string
  }
  readonly summary: string
}

const must = <A>(value: A | undefined, what: string): A => {
  if (value === undefined) throw new Error(`sanity check failed: ${what}`)
  return value
}

export const sanityChecks = async (pki: BenchPki, tlsPort: number, oursPort: number): Promise<Sanity> => {
  const socket = (await connectStream("tls", tlsPort, pki)) as Tls.TLSSocket
  const protocol = socket.getProtocol() ?? "?"
  const cipher = socket.getCipher().name
  const key = socket.getEphemeralKeyInfo() as { name?: string }
  const peer = socket.getPeerCertificate().subjectaltname ?? "?"
  const authorized = socket.authorized
  socket.destroy()
  if (protocol !== "TLSv1.3" || !authorized) throw new Error(`sanity check failed: node:tls gave ${protocol}`)
  const tls = {
    protocol,
    cipher,
    group: key.name ?? "?",
    peer,
    rogueClientRefused: must(
      await tlsRefused(tlsPort, pki, pki.rogue, pki.server.handle),
      "node:tls accepted a client certificate from another CA"
    ),
    wrongPeerRefused: must(
      await tlsRefused(tlsPort, pki, pki.client, "carol@bench.example"),
      "node:tls accepted a server that is not the handle dialed"
    )
  }

  const address = makeAddress("127.0.0.1", oursPort)
  const node = (identity: BenchPki["client"]) =>
    Effect.map(
      channelsFor({ provider: "node", identity, anchors: [pki.caDer], signatureCacheSize: 0 }),
      (c) => c.channels
    )
  const ours = await Effect.runPromise(
    Effect.gen(function* () {
      const client: Channels = yield* node(pki.client)
      const rogue: Channels = yield* node(pki.rogue)
      const session = yield* Effect.scoped(
        Effect.map(client.dial(address, { _tag: "Handle", handle: pki.server.handle as never }), (ch) => ({
          suite: ch.session.suite,
          peer: ch.peer.handle ?? "?"
        }))
      )
      return {
        ...session,
        rogueClientRefused: must(
          yield* refusedReason(rogue, address, pki.server.handle),
          "our channel accepted a client certificate from another CA"
        ),
        wrongPeerRefused: must(
          yield* refusedReason(client, address, "carol@bench.example"),
          "our channel accepted a server that is not the handle dialed"
        )
      }
    })
  )
  return {
    tls,
    ours,
    summary:
      `node:tls ${protocol} ${cipher} ${tls.group}, refuses a foreign client (${tls.rogueClientRefused}) ` +
      `and a wrong peer (${tls.wrongPeerRefused}); ours ${ours.suite}, refuses a foreign client ` +
      `(${ours.rogueClientRefused}) and a wrong peer (${ours.wrongPeerRefused})`
  }
}
