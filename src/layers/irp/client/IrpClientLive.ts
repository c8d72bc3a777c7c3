/**
 * The IRP client (PROTOCOL.md §17): one secure channel to the domain's IRP server, dialled as the
 * initiator expecting the server certificate (EKU serverAuth, SAN dNSName = the server name), checked by
 * the `CertVerifier` of the context (one that trusts the domain's root, or a mock); anonymous when it has
 * no identity yet (enrolment).
 *
 * Requests are multiplexed by id: each request waits under its own ULID (monotonic per connection: one
 * random draw per millisecond), one reader fiber dispatches answers (and `<Changed>` pushes) as they come,
 * in any order. A request that gets no answer within `requestTimeout` (plus at most one sweep period, see
 * `PendingRequests`) fails with `Timeout` and its late answer is dropped. When the channel ends, every
 * waiting request and every watch stream fails with the reason.
 */
import { Context, Deferred, Duration, Effect, Either, Exit, Layer, PubSub, Scope, Stream } from "effect"
import type { Handle } from "../../../domain/brands.js"
import { concatBytes } from "../../../domain/bytes.js"
import { handleOf } from "../../../domain/cert/identity.js"
import { parseCertificate } from "../../../domain/cert/parse.js"
import { makeLocalIdentity } from "../../../domain/handshake/identity.js"
import type { Changed, IrpAnswer, IrpRequest } from "../../../domain/irp/messages.js"
import { irpClientCodec } from "../../../domain/irp/xml.js"
import { monotonicUlids } from "../../../domain/ulid.js"
import type { CertVerifier } from "../../../services/CertVerifier.js"
import { cryptoSuite } from "../../../services/Crypto.js"
import { Entropy } from "../../../services/Entropy.js"
import {
  type IrpClient,
  IrpClientError,
  IrpClients,
  type IrpClientsService,
  type IrpConnectOptions
} from "../../../services/IrpClient.js"
import type { ChannelError } from "../../../services/SecureChannel.js"
import type { Transport } from "../../../services/Transport.js"
import { make as makeChannels } from "../../channel/SecureChannelLive.js"
import type { CryptoPorts } from "../../crypto/CryptoLive.js"
import { channelFailure, type Endpoint, protocolError, refused, timedOut } from "./errors.js"
import { type Answer, PendingRequest, PendingRequests, sweepPeriod } from "./PendingRequests.js"
import { refuseUnsendable } from "./unsendable.js"

export const DEFAULT_REQUEST_TIMEOUT = Duration.seconds(10)
export const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(10)
export const DEFAULT_KEEP_ALIVE = Duration.seconds(60)

const concat = concatBytes

const identityHandle = (chain: ReadonlyArray<Uint8Array>): Handle | undefined => {
  const leaf = chain[0] === undefined ? undefined : parseCertificate(chain[0])
  return leaf?._tag === "Parsed" ? handleOf(leaf.certificate) : undefined
}

export type ClientRequirements = Transport | CryptoPorts | Entropy | CertVerifier

/** Dials the server and returns a client that lives until the scope closes. */
export const connect = (
  options: IrpConnectOptions
): Effect.Effect<IrpClient, IrpClientError, Scope.Scope | ClientRequirements> =>
  Effect.gen(function* () {
    const serverName = options.serverName ?? (options.domain === undefined ? undefined : `irp.${options.domain}`)
    if (serverName === undefined) return yield* Effect.dieMessage("IrpClient.connect needs serverName or domain")
    const endpoint: Endpoint = { address: options.address, serverName }
    const requestTimeout = Duration.decode(options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT)
    const connectTimeout = Duration.decode(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    const crypto = yield* cryptoSuite
    const entropy = yield* Entropy

    const identity =
      options.identity === null ? null : makeLocalIdentity(crypto, options.identity.pkcs8, options.identity.chain)
    if (identity !== null && Either.isLeft(identity))
      return yield* new IrpClientError({
        reason: "Identity",
        message: `Our identity cannot be used: ${identity.left}; check the key and certificate in the identity home.`
      })
    const channels = yield* makeChannels({
      codec: irpClientCodec,
      identity: identity === null ? null : identity.right,
      options: { handshakeTimeout: connectTimeout }
    })
    const channel = yield* channels.dial(options.address, { _tag: "DnsName", dnsName: serverName }).pipe(
      Effect.mapError((e) => channelFailure(endpoint, e)),
      Effect.timeoutFail({
        duration: connectTimeout,
        onTimeout: () => timedOut(endpoint, "accept the connection", Duration.toMillis(connectTimeout))
      })
    )

    // --- the multiplexer ---
    const clock = yield* Effect.clock
    const pending = new PendingRequests()
    const changes = yield* Effect.acquireRelease(PubSub.sliding<Changed>(1024), PubSub.shutdown)
    const closed = yield* Deferred.make<never, IrpClientError>()
    let failure: IrpClientError | undefined
    const terminate = (e: IrpClientError): void => {
      failure ??= e
      pending.failAll(failure)
      Deferred.unsafeDone(closed, Exit.fail(failure))
    }

    /** Hands an answer to its request; a `<Changed>` push goes to the watchers. */
    const dispatch = (m: IrpAnswer | Changed): Effect.Effect<void> | undefined => {
      if (m._tag === "irp.Changed") return Effect.asVoid(PubSub.publish(changes, m))
      const id = m.id
      if (id === undefined)
        return Effect.logWarning(
          `IRP server ${serverName} reported an error for an unreadable request: ${m._tag === "irp.Error" ? m.message : "?"}`
        )
      const p = pending.get(id)
      if (p === undefined) return undefined // answered after its request timed out
      if (m._tag === "irp.CrlResult") {
        if (m.part !== p.crl.length + 1) {
          terminate(protocolError(endpoint, `CRL part ${m.part} arrived after part ${p.crl.length}`))
          return undefined
        }
        p.crl.push(m.der)
        if (m.part < m.parts) return undefined
        pending.settle(id, p, Exit.succeed({ _tag: "crl", der: concat(p.crl) }))
        return undefined
      }
      pending.settle(id, p, Exit.succeed(m))
      return undefined
    }

    const reader: Effect.Effect<void, ChannelError> = Effect.flatMap(channel.receive, (inbound) => {
      if (inbound._tag === "Closed")
        return Effect.sync(() =>
          terminate(
            new IrpClientError({
              reason: "Channel",
              message: `The IRP server ${serverName} closed the connection${inbound.reason ? ` (${inbound.reason})` : ""}: reconnect.`
            })
          )
        )
      if (inbound._tag === "Data") return Effect.sync(() => terminate(protocolError(endpoint, "a binary record")))
      const effect = dispatch(inbound.message)
      return effect === undefined ? reader : Effect.zipRight(effect, reader)
    })
    yield* reader.pipe(
      Effect.catchAll((e) => Effect.sync(() => terminate(channelFailure(endpoint, e)))),
      Effect.onInterrupt(() =>
        Effect.sync(() => terminate(new IrpClientError({ reason: "Channel", message: "The IRP client was closed." })))
      ),
      Effect.forkScoped
    )

    // Requests that outlive their deadline fail with Timeout (see PendingRequests for the bounds).
    const timeoutMs = Duration.toMillis(requestTimeout)
    const timeoutNanos = BigInt(Math.round(timeoutMs * 1e6))
    const timedOutAnswer = (request: PendingRequest) => timedOut(endpoint, `answer ${request.name}`, timeoutMs)
    yield* Effect.sleep(sweepPeriod(requestTimeout)).pipe(
      Effect.zipRight(Effect.sync(() => pending.expire(clock.unsafeCurrentTimeNanos(), timedOutAnswer))),
      Effect.forever,
      Effect.forkScoped
    )

    // One random draw per millisecond (the ULID spec's monotonic mode), taken from a pool refilled 128 draws
    // at a time: the operating system's generator costs about as much for 1280 bytes as for 10 (~1.7 µs),
    // and a busy connection starts a new millisecond on most requests.
    let pool: Uint8Array = new Uint8Array(0)
    let poolAt = 0
    const newId = monotonicUlids(() => {
      if (poolAt === pool.length) {
        pool = entropy.bytes(1280)
        poolAt = 0
      }
      poolAt += 10
      return pool.subarray(poolAt - 10, poolAt)
    })

    /**
     * Sends the request and waits for its whole answer (or the connection's end, or the timeout), then
     * checks it is of the `expected` kind (or the server's refusal).
     */
    const call = <T extends Answer["_tag"]>(
      build: (id: IrpRequest["id"]) => IrpRequest,
      expected: T
    ): Effect.Effect<Extract<Answer, { _tag: T }>, IrpClientError> =>
      Effect.suspend(() => {
        if (failure !== undefined) return Effect.fail(failure)
        const request = build(newId(clock.unsafeCurrentTimeMillis()))
        const refusal = refuseUnsendable(request)
        if (refusal !== undefined) return Effect.fail(refusal)
        const name = request._tag.slice(4)
        const id = request.id
        const p = new PendingRequest(name, clock.unsafeCurrentTimeNanos() + timeoutNanos)
        pending.add(id, p)
        return Effect.matchEffect(channel.send(request), {
          onFailure: (e) => {
            pending.forget(id)
            return Effect.fail(channelFailure(endpoint, e))
          },
          onSuccess: () =>
            Effect.flatMap(p.wait, (answer) => {
              if (answer._tag === expected) return Effect.succeed(answer as Extract<Answer, { _tag: T }>)
              if (answer._tag === "irp.Error") return Effect.fail(refused(name, answer))
              return Effect.fail(protocolError(endpoint, `${answer._tag.slice(4)} in answer to ${name}`))
            })
        })
      })
    const ok = (build: (id: IrpRequest["id"]) => IrpRequest) => Effect.asVoid(call(build, "irp.Ok"))

    const watching = new Map<Handle, number>()
    const issued = (a: Extract<Answer, { _tag: "irp.Issued" }>) => ({
      chain: a.chain,
      serial: a.serial,
      notAfter: a.notAfter
    })

    const ping = ok((id) => ({ _tag: "irp.Ping", id }))
    yield* Effect.sleep(options.keepAlive ?? DEFAULT_KEEP_ALIVE).pipe(
      Effect.zipRight(Effect.ignore(ping)),
      Effect.forever,
      Effect.forkScoped
    )

    // The server judges our certificate after our last handshake flight, so a refusal (revoked, expired,
    // another domain's) arrives only afterwards: one round trip makes `connect` itself report it.
    if (options.identity !== null) yield* ping

    const client: IrpClient = {
      server: channel.peer.certificate,
      handle: options.identity === null ? undefined : identityHandle(options.identity.chain),
      enroll: ({ handle, token, csr }) =>
        Effect.map(
          call((id) => ({ _tag: "irp.Enroll", id, handle, token: token.trim() as never, csr }), "irp.Issued"),
          issued
        ),
      renew: (csr) =>
        Effect.map(
          call((id) => ({ _tag: "irp.Renew", id, csr }), "irp.Issued"),
          issued
        ),
      register: (input) =>
        Effect.map(
          call(
            (id) => ({
              _tag: "irp.Register",
              id,
              deviceId: input.deviceId,
              addresses: input.addresses as never,
              ttlSeconds: input.ttlSeconds,
              seq: input.seq
            }),
            "irp.Registered"
          ),
          (a) => ({ bindings: a.bindings, observed: a.observed, natSuspected: a.natSuspected })
        ),
      deregister: (deviceId) => ok((id) => ({ _tag: "irp.Deregister", id, deviceId })),
      deregisterAll: ok((id) => ({ _tag: "irp.Deregister", id, deviceId: null })),
      lookup: (handle) =>
        Effect.flatMap(
          call((id) => ({ _tag: "irp.Lookup", id, handle }), "irp.LookupResult"),
          (a) =>
            a.handle === handle
              ? Effect.succeed({ handle: a.handle, status: a.status, chain: a.chain, bindings: a.bindings })
              : Effect.fail(protocolError(endpoint, `a Lookup of ${handle} answered for ${a.handle}`))
        ),
      status: (serial, options) =>
        Effect.flatMap(
          call(
            (id) =>
              options?.staple === true
                ? { _tag: "irp.Status", id, serial, staple: true }
                : { _tag: "irp.Status", id, serial },
            "irp.StatusResult"
          ),
          (a) =>
            a.serial === serial
              ? Effect.succeed({
                  serial: a.serial,
                  status: a.status,
                  revokedAt: a.revokedAt,
                  reason: a.reason,
                  staple: a.staple
                })
              : Effect.fail(protocolError(endpoint, `a Status of ${serial} answered for ${a.serial}`))
        ),
      crl: Effect.map(
        call((id) => ({ _tag: "irp.Crl", id }), "crl"),
        (a) => a.der
      ),
      revoke: (serial, reason = "unspecified") => ok((id) => ({ _tag: "irp.Revoke", id, serial, reason })),
      watch: (handles) =>
        Effect.gen(function* () {
          const subscription = yield* PubSub.subscribe(changes)
          yield* ok((id) => ({ _tag: "irp.Watch", id, handles: handles as never }))
          for (const h of handles) watching.set(h, (watching.get(h) ?? 0) + 1)
          yield* Effect.addFinalizer(() =>
            Effect.suspend(() => {
              const drop: Array<Handle> = []
              for (const h of new Set(handles)) {
                const n = (watching.get(h) ?? 1) - handles.filter((x) => x === h).length
                if (n > 0) watching.set(h, n)
                else {
                  watching.delete(h)
                  drop.push(h)
                }
              }
              return drop.length === 0 || failure !== undefined
                ? Effect.void
                : Effect.ignore(ok((id) => ({ _tag: "irp.Unwatch", id, handles: drop })))
            })
          )
          const wanted = new Set<string>(handles)
          return Stream.fromQueue(subscription).pipe(
            Stream.filter((c) => wanted.has(c.handle)),
            Stream.map((c) => ({ handle: c.handle, status: c.status, bindings: c.bindings })),
            Stream.interruptWhen(Deferred.await(closed))
          )
        }),
      ping,
      close: channel.close()
    }
    return client
  })

/**
 * The `IrpClients` service over the Transport, CertVerifier, crypto ports and Entropy of the layer's context. The
 * captured context must not carry the builder's `Scope`: each client lives in its caller's scope.
 */
export const make: Effect.Effect<IrpClientsService, never, ClientRequirements> = Effect.map(
  Effect.context<ClientRequirements>(),
  (captured): IrpClientsService => {
    const context = Context.omit(Scope.Scope)(captured as Context.Context<ClientRequirements | Scope.Scope>)
    return { connect: (options) => Effect.provide(connect(options), context as Context.Context<ClientRequirements>) }
  }
)

export const layer: Layer.Layer<IrpClients, never, ClientRequirements> = Layer.effect(IrpClients, make)
