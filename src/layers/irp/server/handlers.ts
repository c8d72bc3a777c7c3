/**
 * What the IRP server does for each request once it is authorised (PROTOCOL.md §17). Every outcome is an
 * answer: refusals are `<Error>` documents with the code a client acts on, and storage or CA failures
 * become `internal` without leaking their details (those are logged).
 *
 * The parts live beside it: `context.ts` holds what the handlers run with, `refusals.ts` turns failures
 * into `<Error>` answers, and `lookup.ts` answers Lookups and builds what a `<Changed>` says of a handle.
 * Their names used elsewhere are re-exported from here.
 */
import { createHash } from "node:crypto"
import { Effect, Schema, Stream } from "effect"
import type { Address, Handle, Id } from "../../../domain/brands.js"
import type { CertificateRecord, SerialHex } from "../../../domain/irp/certificates.js"
import type { IrpRequest, IrpServerMessage, WireAddress } from "../../../domain/irp/messages.js"
import { hostKey } from "../../../domain/irp/registry.js"
import { handleInDomain } from "../../../domain/pki/profile.js"
import { EnrollmentToken, enrollmentTokenDigest } from "../../../domain/pki/token.js"
import { verifyCsr } from "../../ca/csr.js"
import type { ConnectionContext, ServerContext } from "./context.js"
import { bindingInfo, lookup, lookupAtOnce } from "./lookup.js"
import { fromCa, fromCrl, fromRegistry, notOurs, Refused, registry } from "./refusals.js"
import { foreignDomain, fromFederation, relayDomainInfo, relayLookup, relayRefusal, relayStatus } from "./relay.js"
import { entryOf } from "./revocations.js"

export type { ConnectionContext, ServerContext } from "./context.js"
export { changedOf } from "./lookup.js"
export { Refused, refusalAnswer } from "./refusals.js"

/** `::ffff:192.0.2.1` is reported as the IPv4 address it is. */
export const canonicalSource = (address: Address): WireAddress => {
  const host = address.host.toLowerCase()
  return {
    host: (host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host) as WireAddress["host"],
    port: address.port as WireAddress["port"]
  }
}

const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

const isToken = Schema.is(EnrollmentToken)

/** Issues a certificate for a checked CSR and records it (Enroll, Renew). */
const issue = (ctx: ServerContext, id: IrpRequest["id"], csr: Uint8Array, handle: Handle) =>
  Effect.gen(function* () {
    const issued = yield* Effect.mapError(ctx.ca.issueClient(csr, handle), fromCa)
    const record: CertificateRecord = {
      serial: issued.serial as SerialHex,
      handle,
      fingerprint: sha256Hex(issued.spki) as CertificateRecord["fingerprint"],
      der: issued.chain[0]!,
      notBefore: issued.notBefore.getTime(),
      notAfter: issued.notAfter.getTime(),
      status: "good"
    }
    yield* registry(ctx.registry.recordCertificate(record))
    return [
      {
        _tag: "irp.Issued",
        id,
        serial: record.serial,
        notAfter: record.notAfter,
        chain: issued.chain
      }
    ] as const
  })

export type Answers = ReadonlyArray<IrpServerMessage>

/**
 * `<Status staple="true">` (PROTOCOL.md §17.8.1): the status, and for a good, unexpired certificate a
 * freshly signed staple (§13.6.1). Never a staple for a revoked, unknown or expired serial: the
 * revocation view is checked again after signing, so a revocation that landed meanwhile wins.
 */
const stapled = (ctx: ServerContext, id: Id, serial: SerialHex, now: number) =>
  Effect.gen(function* () {
    const record = yield* registry(ctx.registry.certificateBySerial(serial))
    if (record === undefined) return { _tag: "irp.StatusResult", id, serial, status: "unknown" } as const
    if (record.status === "revoked")
      return {
        _tag: "irp.StatusResult",
        id,
        serial,
        status: "revoked",
        revokedAt: record.revokedAt ?? now,
        reason: record.reason ?? "unspecified"
      } as const
    if (record.notAfter <= now) return { _tag: "irp.StatusResult", id, serial, status: "good" } as const
    const staple = yield* ctx.ca.signStatus({ serial, handle: record.handle, notAfter: record.notAfter })
    const late = ctx.revocations.entry(serial)
    return late === undefined
      ? ({ _tag: "irp.StatusResult", id, serial, status: "good", staple } as const)
      : ({
          _tag: "irp.StatusResult",
          id,
          serial,
          status: "revoked",
          revokedAt: late.revokedAt,
          reason: late.reason
        } as const)
  })

/**
 * A request for another domain (PROTOCOL.md §22.4): `undefined` when it is relayed (by `act`), else the
 * refusal (no `Federation` service, or our policy does not permit the domain, §22.5).
 */
const noRelay = (ctx: ServerContext, conn: ConnectionContext, domain: string): Refused | undefined =>
  conn.caller._tag === "Holder" ? relayRefusal(ctx, domain) : relayedForHoldersOnly(domain)

/**
 * §22.4: requests are relayed for this domain's enrolled users only. An anonymous caller could otherwise
 * make this IRP look up DNS names and dial hosts of its choosing, with no one to hold to account.
 */
const relayedForHoldersOnly = (domain: string) =>
  new Refused({
    code: "unauthorized",
    message: `Requests about another domain (${domain}) are relayed only for this domain's enrolled users: connect with your certificate.`
  })

/**
 * A Lookup or Watch of a foreign handle: refused `federation_refused` when it is not relayed (no
 * `Federation` service, or our policy, §22.5), so the user reads why; `not_found` for a handle whose
 * domain is no DNS name (no IRP anywhere answers for it).
 */
const foreignHandle = (ctx: ServerContext, conn: ConnectionContext, handle: Handle): Refused | undefined => {
  const domain = foreignDomain(handle)
  return domain === undefined ? notOurs(ctx.domain, handle) : noRelay(ctx, conn, domain)
}

const tooManyWatches = (conn: ConnectionContext) =>
  new Refused({
    code: "bad_request",
    message: `This connection already watches ${conn.watches.size()} handles, the most allowed: unwatch some, or open another connection.`
  })

/**
 * A Watch with foreign handles (§22.4): this domain's go to the hub, the others through the `Federation`
 * service, each pushed to this connection as `<Changed>`; all of them or none.
 */
const watchWithForeign = (
  ctx: ServerContext,
  conn: ConnectionContext,
  request: Extract<IrpRequest, { readonly _tag: "irp.Watch" }>
) =>
  Effect.gen(function* () {
    const local = request.handles.filter((h) => handleInDomain(h, ctx.domain))
    const foreign = request.handles.filter((h) => !handleInDomain(h, ctx.domain))
    for (const h of foreign) {
      const refusal = foreignHandle(ctx, conn, h)
      if (refusal !== undefined) return yield* refusal
    }
    const federation = ctx.relay!
    const added = yield* conn.watches.addForeign(foreign, (handle) =>
      Effect.map(Effect.mapError(federation.watch([handle]), fromFederation), (changes) =>
        changes.pipe(
          Stream.map((c) => ({
            _tag: "irp.Changed" as const,
            handle: c.handle,
            status: c.status,
            bindings: c.bindings
          }))
        )
      )
    )
    if (!added || !conn.watches.add(local)) {
      conn.watches.remove(foreign)
      return yield* tooManyWatches(conn)
    }
    return [{ _tag: "irp.Ok", id: request.id }] as Answers
  })

/**
 * The answer to an authorised request when it takes no effect to find: Ping, Watch, Unwatch, a Lookup
 * that the answer cache holds (or that is refused at once), and the Status of a certificate that the
 * revocation view holds (revocation is final, so the view is never wrong about one it holds). `undefined`: the request needs `act`.
 * Most requests of a busy server end here, so this path allocates only the answer.
 */
export const answerAtOnce = (
  ctx: ServerContext,
  conn: ConnectionContext,
  request: IrpRequest,
  now: number
): Answers | Refused | undefined => {
  switch (request._tag) {
    case "irp.Ping":
      return [{ _tag: "irp.Ok", id: request.id }]
    case "irp.DomainInfo":
      if (request.domain !== undefined && request.domain !== ctx.domain) return noRelay(ctx, conn, request.domain)
      // PROTOCOL.md §22.3.1: the domain, its federation mode and its root, to anyone.
      return [
        {
          _tag: "irp.DomainInfoResult",
          id: request.id,
          domain: ctx.domain,
          policy: ctx.federation,
          root: ctx.rootCertificate
        }
      ]
    case "irp.Lookup":
      if (!handleInDomain(request.handle, ctx.domain)) return foreignHandle(ctx, conn, request.handle)
      return lookupAtOnce(ctx, request, now)
    case "irp.Status": {
      if (request.domain !== undefined && request.domain !== ctx.domain) return noRelay(ctx, conn, request.domain)
      const revoked = ctx.revocations.entry(request.serial)
      if (revoked === undefined) return undefined
      return [
        {
          _tag: "irp.StatusResult",
          id: request.id,
          serial: request.serial,
          status: "revoked",
          revokedAt: revoked.revokedAt,
          reason: revoked.reason
        }
      ]
    }
    case "irp.Watch": {
      for (const h of request.handles) {
        if (handleInDomain(h, ctx.domain)) continue
        // Foreign handles are watched through the Federation service, by `act`.
        return foreignHandle(ctx, conn, h)
      }
      if (!conn.watches.add(request.handles)) return tooManyWatches(conn)
      return [{ _tag: "irp.Ok", id: request.id }]
    }
    case "irp.Unwatch":
      conn.watches.remove(request.handles)
      return [{ _tag: "irp.Ok", id: request.id }]
    default:
      return undefined
  }
}

/** `answerAtOnce` for a request that always has an immediate answer. */
const atOnce = (ctx: ServerContext, conn: ConnectionContext, request: IrpRequest, now: number) => {
  const answers = answerAtOnce(ctx, conn, request, now)
  if (answers === undefined) throw new Error(`${request._tag} has no immediate answer`)
  return answers instanceof Refused ? Effect.fail(answers) : Effect.succeed(answers)
}

type RegisterRequest = Extract<IrpRequest, { readonly _tag: "irp.Register" }>

/** Most host keys `hostKeyOf` remembers; past it they are all forgotten at once (a bound, not an LRU). */
const HOST_KEYS = 4096
const hostKeys = new Map<string, string>()

/**
 * `hostKey` of a host, remembered: a device registers the same addresses at every renewal of its lease,
 * and the key (a few regular expressions and a split) cost more than the rest of the NAT check (issue 15).
 */
const hostKeyOf = (host: string): string => {
  let key = hostKeys.get(host)
  if (key === undefined) {
    if (hostKeys.size >= HOST_KEYS) hostKeys.clear()
    key = hostKey(host)
    hostKeys.set(host, key)
  }
  return key
}

/** The connection's source as `<Registered>` reports it, and its host key: the same for every request. */
interface Observed {
  readonly address: WireAddress
  readonly key: string
}
const observedBySource = new WeakMap<Address, Observed>()
const observedOf = (source: Address): Observed => {
  let observed = observedBySource.get(source)
  if (observed === undefined) {
    const address = canonicalSource(source)
    observed = { address, key: hostKeyOf(address.host) }
    observedBySource.set(source, observed)
  }
  return observed
}

/**
 * PROTOCOL.md §17.5.5: a NAT is suspected when the observed host is none of the registered ones
 * (`natSuspected` of the domain, with the host keys remembered).
 */
const natSuspectedAt = (observed: Observed, addresses: ReadonlyArray<{ readonly host: string }>): boolean => {
  for (const a of addresses) if (hostKeyOf(a.host) === observed.key) return false
  return true
}

/** What `<Registered>` says of a registration from `source` (its `observed` and `natSuspected`). */
export const registeredFrom = (source: Address, addresses: ReadonlyArray<{ readonly host: string }>) => {
  const observed = observedOf(source)
  return { observed: observed.address, natSuspected: natSuspectedAt(observed, addresses) }
}

/**
 * Register (PROTOCOL.md §17.5): the registration through the registry's group commit, answered with the
 * bindings it leaves. One `matchEffect` rather than a generator, a `mapError` and a `map`: after Lookup
 * it is the request a busy server gets most (issue 15).
 */
const register = (
  ctx: ServerContext,
  conn: ConnectionContext,
  request: RegisterRequest,
  now: number
): Effect.Effect<Answers, Refused> => {
  const { caller } = conn
  if (caller._tag !== "Holder") return Effect.die(new Error(`${request._tag} reached its handler without a holder`))
  const observed = observedOf(caller.source)
  return Effect.matchEffect(
    ctx.registry.register({
      handle: caller.handle,
      deviceId: request.deviceId,
      addresses: request.addresses,
      ttlSeconds: request.ttlSeconds,
      seq: request.seq,
      observed: observed.address,
      now
    }),
    {
      onFailure: (error) => Effect.fail(fromRegistry(error)),
      onSuccess: (bindings) =>
        Effect.succeed<Answers>([
          {
            _tag: "irp.Registered",
            id: request.id,
            bindings: bindings.map(bindingInfo),
            observed: observed.address,
            natSuspected: natSuspectedAt(observed, request.addresses)
          }
        ])
    }
  )
}

/**
 * Acts on an authorised request at `now` (what `answerAtOnce` left, or any other). `caller` is a holder
 * for every request but Enroll, Status, Crl, Ping, DomainInfo (and Lookup).
 */
export const act = (
  ctx: ServerContext,
  conn: ConnectionContext,
  request: IrpRequest,
  now: number
): Effect.Effect<Answers, Refused> =>
  request._tag === "irp.Register"
    ? register(ctx, conn, request, now)
    : // A Lookup of this domain that `answerAtOnce` left (PostgreSQL, or a revoked handle): no generator step.
      request._tag === "irp.Lookup" && handleInDomain(request.handle, ctx.domain)
      ? lookup(ctx, request, now)
      : actOther(ctx, conn, request, now)

const actOther = (
  ctx: ServerContext,
  conn: ConnectionContext,
  request: Exclude<IrpRequest, RegisterRequest>,
  now: number
): Effect.Effect<Answers, Refused> =>
  Effect.gen(function* () {
    const { caller } = conn
    const ok: Answers = [{ _tag: "irp.Ok", id: request.id }]
    const holder = (): Handle => {
      if (caller._tag !== "Holder") throw new Error(`${request._tag} reached its handler without a holder`)
      return caller.handle
    }
    switch (request._tag) {
      case "irp.Enroll": {
        const { handle, token, csr } = request
        if (!handleInDomain(handle, ctx.domain))
          return yield* new Refused({
            code: "forbidden",
            message: `This server enrols only handles of ${ctx.domain}, not ${handle}.`
          })
        if (!isToken(token))
          return yield* new Refused({
            code: "token_invalid",
            message: "That is not an enrolment token (they read sxe1- and 43 more characters): copy it whole."
          })
        // PROTOCOL.md §17.4.4: check the CSR (proof of possession, the token's handle, key policy) BEFORE the
        // token is consumed, so a bad CSR leaves the token usable; a consumed token is never restored.
        yield* Effect.mapError(verifyCsr(csr, handle), fromCa)
        const tokenHash = Buffer.from(enrollmentTokenDigest(token), "hex")
        yield* registry(ctx.registry.consumeToken({ tokenHash: new Uint8Array(tokenHash), handle, now }))
        return yield* issue(ctx, request.id, csr, handle)
      }
      case "irp.Renew":
        return yield* issue(ctx, request.id, request.csr, holder())
      case "irp.Deregister":
        yield* registry(ctx.registry.deregister({ handle: holder(), deviceId: request.deviceId ?? "all", now }))
        return ok
      case "irp.Lookup":
        if (!handleInDomain(request.handle, ctx.domain)) return yield* relayLookup(ctx, request)
        return yield* lookup(ctx, request, now)
      case "irp.Status": {
        if (request.domain !== undefined && request.domain !== ctx.domain) return yield* relayStatus(ctx, request)
        if (request.staple === true) return [yield* stapled(ctx, request.id, request.serial, now)]
        const status = yield* registry(ctx.registry.status(request.serial))
        return [{ _tag: "irp.StatusResult", id: request.id, ...status }]
      }
      case "irp.Crl": {
        const parts = yield* Effect.mapError(ctx.crl.parts, fromCrl)
        return parts.map((der, i) => ({
          _tag: "irp.CrlResult" as const,
          id: request.id,
          part: i + 1,
          parts: parts.length,
          der
        }))
      }
      case "irp.Revoke": {
        const handle = holder()
        const record = yield* registry(ctx.registry.certificateBySerial(request.serial))
        if (record === undefined)
          return yield* new Refused({
            code: "not_found",
            message: `No certificate with serial ${request.serial} was issued here: check the serial.`
          })
        // PROTOCOL.md §17.3.1: "the holder of the serial's certificate, or a configured administrator".
        if (record.handle !== handle && !ctx.administrators.has(handle))
          return yield* new Refused({
            code: "forbidden",
            message: `Certificate ${request.serial} belongs to another identity: only its holder (or an administrator) may revoke it.`
          })
        const revoked = yield* registry(
          ctx.registry.revoke({ serial: request.serial, reason: request.reason, at: now })
        )
        ctx.revocations.note([entryOf(revoked)])
        return ok
      }
      case "irp.DomainInfo":
        if (request.domain !== undefined && request.domain !== ctx.domain) return yield* relayDomainInfo(ctx, request)
        return yield* atOnce(ctx, conn, request, now)
      case "irp.Watch":
        if (request.handles.some((h) => !handleInDomain(h, ctx.domain)))
          return yield* watchWithForeign(ctx, conn, request)
        return yield* atOnce(ctx, conn, request, now)
      case "irp.Unwatch":
      case "irp.Ping":
        return yield* atOnce(ctx, conn, request, now)
    }
  })
