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
 * Handles of other domains go to our own IRP too, which relays them (PROTOCOL.md §22.1, §22.4): the UA
 * never talks to a foreign IRP. The root a foreign `LookupResult` carries (`<DomainCa>`) is handed to
 * `DomainRoots` (pinned on first use, a change is a domain key change, §22.3.3); watches of foreign
 * handles are asked in groups of their own, so that a home IRP refusing them never stops the watch of
 * our own domain's people; a foreign certificate's status is asked with `domain=` (relayed).
 */
import { Effect, Layer, Option, Stream } from "effect"
import type { DomainName } from "../../../domain/agent/domainRoots.js"
import { type Address, type Handle, handleDomain } from "../../../domain/brands.js"
import { certificateIdentity } from "../../../domain/cert/identity.js"
import type { SerialHex } from "../../../domain/irp/certificates.js"
import { MAX_WATCH_HANDLES } from "../../../domain/irp/messages.js"
import { Directory, DirectoryError, type DirectoryService, type PeerLocation } from "../../../services/Directory.js"
import { DomainRoots } from "../../../services/DomainRoots.js"
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
  // PROTOCOL.md §22.5, §22.6: the home IRP's own sentence ("other.net does not accept federation from …").
  if (e.reason === "federation_unavailable")
    return new DirectoryError({ reason: "Unreachable", message: e.message, cause: e })
  if (e.reason === "not_found") return new DirectoryError({ reason: "NotFound", message: e.message, cause: e })
  if (isConnectionFailure(e))
    return new DirectoryError({
      reason: "Unreachable",
      message: `${handle === undefined ? "The directory" : `Looking up ${handle}`} needs the IRP server, which is not reachable now (${e.message}); the agent keeps trying.`,
      cause: e
    })
  // PROTOCOL.md §22.5: a federation refusal is the IRP's own sentence ("other.net does not accept federation from …").
  if (e.reason === "federation_refused")
    return new DirectoryError({ reason: "Refused", message: e.serverMessage ?? e.message, cause: e })
  return new DirectoryError({ reason: "Refused", message: e.message, cause: e })
}

export const make = Effect.gen(function* () {
  const connection = yield* IrpConnection
  const revocations = yield* IrpRevocations
  const domain = handleDomain(connection.handle)
  const roots = Option.getOrUndefined(yield* Effect.serviceOption(DomainRoots))
  const isOurs = (h: Handle) => handleDomain(h) === domain

  const noteRevoked = (record: IdentityRecord) => {
    if (record.status !== "revoked" || record.chain[0] === undefined) return
    const leaf = certificateIdentity(record.chain[0])
    if (leaf !== undefined) revocations.note(leaf.serial)
  }

  const lookup = (handle: Handle): Effect.Effect<PeerLocation, DirectoryError> =>
    Effect.gen(function* () {
      const record = yield* Effect.mapError(
        connection.use((client) => client.lookup(handle)),
        (e) => directoryError(handle, e)
      )
      // §22.3.3: pin (or compare) the root the home IRP relayed; a held change is refused at the handshake.
      if (!isOurs(handle) && record.domainRoot !== undefined && roots !== undefined)
        yield* roots
          .observe(handleDomain(handle) as DomainName, record.domainRoot)
          .pipe(
            Effect.catchAll((e) =>
              Effect.logWarning(`agent: the CA of ${handleDomain(handle)} was not pinned: ${e.message}`)
            )
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
          message: `${handle} has no certificate in ${handleDomain(handle)}: check the spelling, or ask them to enrol.`
        })
      return locationOf(record)
    })

  /**
   * The watch on one connection: once the server acknowledged it, the resync (after a reconnect:
   * changes may have been missed), then the pushes.
   */
  /** A foreign group the home IRP refuses (it does not relay, policy) is logged and left out. */
  const watchGroup = (up: Connected, group: ReadonlyArray<Handle>) =>
    group.every(isOurs)
      ? up.client.watch(group)
      : Effect.catchAll(up.client.watch(group), (e) =>
          isConnectionFailure(e)
            ? Effect.fail(e)
            : Effect.as(
                Effect.logWarning(
                  `agent: your IRP does not watch ${group.join(", ")} (${e.message}); they are retried on schedule only`
                ),
                Stream.never
              )
        )

  const watchOn = (up: Connected, groups: ReadonlyArray<ReadonlyArray<Handle>>, resync: ReadonlyArray<Handle>) =>
    Stream.unwrapScoped(
      Effect.map(
        Effect.forEach(groups, (group) => watchGroup(up, group)),
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
    const all = [...new Set(handles)]
    if (all.length === 0) return Stream.never
    const groups: Array<ReadonlyArray<Handle>> = []
    for (const part of [all.filter(isOurs), all.filter((h) => !isOurs(h))])
      for (let i = 0; i < part.length; i += MAX_WATCH_HANDLES) groups.push(part.slice(i, i + MAX_WATCH_HANDLES))
    return connection.connections.pipe(
      Stream.zipWithIndex,
      Stream.flatMap(([up, index]) => watchOn(up, groups, index === 0 ? [] : all), { switch: true })
    )
  }

  /** Status by serial (17.8.1); a revoked serial is noted, so that its next handshake is refused too. */
  const certificateStatus = (handle: Handle, serial: string) =>
    connection
      .use((client) =>
        client.status(serial as SerialHex, isOurs(handle) ? undefined : { domain: handleDomain(handle) })
      )
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
