/**
 * The Directory over the IRP (PROTOCOL.md §17 `Lookup` / `Watch`; issue 4, section 1): where a peer
 * of our domain can be reached now, and a stream of peers whose bindings changed.
 *
 * * `lookup`: the unexpired bindings' addresses, freshest registration first, IPv6 first within
 *   (the dialer interleaves families anyway), each once; the SPKI fingerprint of the peer's current
 *   certificate. A revoked identity is refused (`Revoked`), one without a certificate is `NotFound`.
 * * `watch`: one IRP `Watch` per 64 handles on the shared connection, established again after every
 *   reconnect; since changes may have been missed while the connection was down, every watched handle
 *   is reported once when the watch is re-established (the delivery pump then retries at once).
 * * `certificateStatus`: one certificate's status by serial (IRP `Status`), which the agent asks for each
 *   live session's certificate when the peer's handle changes (issue 10 §2).
 * * Revocations seen here (a lookup, a pushed change, or a status, of a revoked identity) are remembered in
 *   `RevocationNotes`, which the agent's CertVerifier consults: a peer revoked after we last saw it
 *   is refused at the handshake too, not only when we dial it.
 *
 * Only handles of our own domain are served: the IRP of another domain is authoritative for its users
 * (PROTOCOL.md §2), and its trust anchor is not ours.
 */
import { Effect, Layer, Stream } from "effect"
import { type Address, type Handle, handleDomain } from "../../../domain/brands.js"
import { certificateIdentity } from "../../../domain/cert/identity.js"
import type { SerialHex } from "../../../domain/irp/certificates.js"
import { MAX_WATCH_HANDLES } from "../../../domain/irp/messages.js"
import { Directory, DirectoryError, type DirectoryService, type PeerLocation } from "../../../services/Directory.js"
import type { IdentityRecord, IrpClientError } from "../../../services/IrpClient.js"
import { IrpRevocations, type RevocationNotes } from "../../../services/IrpRevocations.js"
import { type Connected, IrpConnection, isConnectionFailure } from "./IrpConnection.js"

export { IrpRevocations, type RevocationNotes } from "../../../services/IrpRevocations.js"

export const makeRevocationNotes = (): RevocationNotes => {
  const serials = new Set<string>()
  return {
    note: (serial) => void serials.add(serial.toLowerCase().replace(/^0+(?=.)/, "")),
    isRevoked: (_issuer, serial) => serials.has(serial),
    size: () => serials.size
  }
}

const isV6 = (a: Address) => a.host.includes(":")

/** Every address of the record's bindings: freshest binding first, IPv6 first, each once. */
export const locationOf = (record: IdentityRecord): PeerLocation => {
  const bindings = [...record.bindings].sort((a, b) => b.expiresAt - a.expiresAt)
  const seen = new Set<string>()
  const all: Array<Address> = []
  for (const b of bindings)
    for (const a of b.addresses as unknown as ReadonlyArray<Address>) {
      const key = `${a.host.toLowerCase()}|${a.port}`
      if (seen.has(key)) continue
      seen.add(key)
      all.push(a)
    }
  const leaf = record.chain[0] === undefined ? undefined : certificateIdentity(record.chain[0])
  return {
    handle: record.handle,
    addresses: [...all.filter(isV6), ...all.filter((a) => !isV6(a))],
    fingerprint: leaf?.fingerprint
  }
}

const directoryError = (handle: Handle | undefined, e: IrpClientError): DirectoryError => {
  if (e.reason === "not_found") return new DirectoryError({ reason: "NotFound", message: e.message, cause: e })
  if (isConnectionFailure(e))
    return new DirectoryError({
      reason: "Unreachable",
      message: `${handle === undefined ? "The directory" : `Looking up ${handle}`} needs the IRP server, which is not reachable now (${e.message}); the agent keeps trying.`,
      cause: e
    })
  return new DirectoryError({ reason: "Refused", message: e.message, cause: e })
}

export const make = Effect.gen(function* () {
  const connection = yield* IrpConnection
  const revocations = yield* IrpRevocations
  const domain = handleDomain(connection.handle)

  const noteRevoked = (record: IdentityRecord) => {
    if (record.status !== "revoked" || record.chain[0] === undefined) return
    const leaf = certificateIdentity(record.chain[0])
    if (leaf !== undefined) revocations.note(leaf.serial)
  }

  const lookup = (handle: Handle): Effect.Effect<PeerLocation, DirectoryError> =>
    Effect.gen(function* () {
      if (handleDomain(handle) !== domain)
        return yield* new DirectoryError({
          reason: "Refused",
          message: `${handle} is not in ${domain}: this agent can only reach people of its own domain.`
        })
      const record = yield* Effect.mapError(
        connection.use((client) => client.lookup(handle)),
        (e) => directoryError(handle, e)
      )
      noteRevoked(record)
      if (record.status === "revoked")
        return yield* new DirectoryError({
          reason: "Revoked",
          message: `${handle}'s certificate has been revoked: nothing is sent to them until they enrol again (then check their verification code).`
        })
      if (record.status === "unknown")
        return yield* new DirectoryError({
          reason: "NotFound",
          message: `${handle} has no certificate in ${domain}: check the spelling, or ask them to enrol.`
        })
      return locationOf(record)
    })

  /**
   * The watch on one connection: once the server acknowledged it, the resync (after a reconnect:
   * changes may have been missed), then the pushes.
   */
  const watchOn = (up: Connected, groups: ReadonlyArray<ReadonlyArray<Handle>>, resync: ReadonlyArray<Handle>) =>
    Stream.unwrapScoped(
      Effect.map(
        Effect.forEach(groups, (group) => up.client.watch(group)),
        (streams) =>
          Stream.concat(
            Stream.fromIterable(resync),
            Stream.mergeAll(streams, { concurrency: "unbounded" }).pipe(
              Stream.tap((change) =>
                change.status === "revoked"
                  ? Effect.ignore(
                      Effect.map(
                        connection.use((c) => c.lookup(change.handle)),
                        noteRevoked
                      )
                    )
                  : Effect.void
              ),
              Stream.map((change) => change.handle)
            )
          )
      )
    ).pipe(
      Stream.catchAll((e) =>
        isConnectionFailure(e)
          ? // The supervisor reconnects; the next connection watches again.
            Stream.drain(Stream.fromEffect(connection.failed(up.generation, e)))
          : Stream.fail(directoryError(undefined, e))
      )
    )

  const watch = (handles: ReadonlyArray<Handle>): Stream.Stream<Handle, DirectoryError> => {
    const ours = [...new Set(handles.filter((h) => handleDomain(h) === domain))]
    if (ours.length === 0) return Stream.never
    const groups: Array<ReadonlyArray<Handle>> = []
    for (let i = 0; i < ours.length; i += MAX_WATCH_HANDLES) groups.push(ours.slice(i, i + MAX_WATCH_HANDLES))
    return connection.connections.pipe(
      Stream.zipWithIndex,
      Stream.flatMap(([up, index]) => watchOn(up, groups, index === 0 ? [] : ours), { switch: true })
    )
  }

  /** Status by serial (17.8.1); a revoked serial is noted, so that its next handshake is refused too. */
  const certificateStatus = (handle: Handle, serial: string) =>
    handleDomain(handle) !== domain
      ? Effect.succeed("unknown" as const)
      : connection
          .use((client) => client.status(serial as SerialHex))
          .pipe(
            Effect.mapError((e) => directoryError(handle, e)),
            Effect.map((answer) => {
              if (answer.status === "revoked") revocations.note(serial)
              return answer.status
            })
          )

  return { lookup, watch, certificateStatus } satisfies DirectoryService
})

/** The Directory, and the revocation notes it keeps, over the shared IRP connection. */
export const layer: Layer.Layer<Directory, never, IrpConnection | IrpRevocations> = Layer.effect(Directory, make)

export const revocationsLayer = (notes: RevocationNotes = makeRevocationNotes()): Layer.Layer<IrpRevocations> =>
  Layer.succeed(IrpRevocations, notes)
