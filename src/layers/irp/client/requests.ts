/**
 * The IRP client's requests (PROTOCOL.md §17): each method builds its request, waits for the answer of
 * the expected kind through the multiplexer and checks that it answers what was asked.
 */
import { Effect, Exit, PubSub, Stream } from "effect"
import type { Handle } from "../../../domain/brands.js"
import { handleOf } from "../../../domain/cert/identity.js"
import { parseCertificate } from "../../../domain/cert/parse.js"
import { normalizeDomain } from "../../../domain/federation/discovery.js"
import type { IrpClient, IrpConnectOptions } from "../../../services/IrpClient.js"
import type { PeerInfo } from "../../../services/SecureChannel.js"
import { checkDomainCa, checkDomainInfo } from "./domainInfo.js"
import { type Endpoint, protocolError } from "./errors.js"
import type { Multiplexer } from "./multiplexer.js"
import type { Answer } from "./PendingRequests.js"

const identityHandle = (chain: ReadonlyArray<Uint8Array>): Handle | undefined => {
  const leaf = chain[0] === undefined ? undefined : parseCertificate(chain[0])
  return leaf?._tag === "Parsed" ? handleOf(leaf.certificate) : undefined
}

const issued = (a: Extract<Answer, { _tag: "irp.Issued" }>) =>
  Exit.succeed({ chain: a.chain, serial: a.serial, notAfter: a.notAfter })

export const makeRequests = (
  { call, ok, changes, closed, failure }: Multiplexer,
  endpoint: Endpoint,
  identity: IrpConnectOptions["identity"],
  server: PeerInfo["certificate"],
  ping: IrpClient["ping"],
  close: IrpClient["close"]
): IrpClient => {
  const watching = new Map<Handle, number>()
  return {
    server,
    handle: identity === null ? undefined : identityHandle(identity.chain),
    // Each answer's check and reading run in `finish` (see `Multiplexer.call`).
    enroll: ({ handle, token, csr }) =>
      call((id) => ({ _tag: "irp.Enroll", id, handle, token: token.trim() as never, csr }), "irp.Issued", issued),
    renew: (csr) => call((id) => ({ _tag: "irp.Renew", id, csr }), "irp.Issued", issued),
    register: (input) =>
      call(
        (id) => ({
          _tag: "irp.Register",
          id,
          deviceId: input.deviceId,
          addresses: input.addresses as never,
          ttlSeconds: input.ttlSeconds,
          seq: input.seq
        }),
        "irp.Registered",
        (a) => Exit.succeed({ bindings: a.bindings, observed: a.observed, natSuspected: a.natSuspected })
      ),
    deregister: (deviceId) => ok((id) => ({ _tag: "irp.Deregister", id, deviceId })),
    deregisterAll: ok((id) => ({ _tag: "irp.Deregister", id, deviceId: null })),
    lookup: (handle) =>
      call(
        (id) => ({ _tag: "irp.Lookup", id, handle }),
        "irp.LookupResult",
        (a) =>
          a.handle === handle
            ? a.domainCa === undefined
              ? Exit.succeed({ handle: a.handle, status: a.status, chain: a.chain, bindings: a.bindings })
              : Exit.map(checkDomainCa(endpoint, handle, a.domainCa), (domainRoot) => ({
                  handle: a.handle,
                  status: a.status,
                  chain: a.chain,
                  bindings: a.bindings,
                  domainRoot
                }))
            : Exit.fail(protocolError(endpoint, `a Lookup of ${handle} answered for ${a.handle}`))
      ),
    status: (serial, options) =>
      call(
        (id) => ({
          _tag: "irp.Status",
          id,
          serial,
          ...(options?.staple === true ? { staple: true as const } : {}),
          ...(options?.domain === undefined ? {} : { domain: options.domain })
        }),
        "irp.StatusResult",
        (a) =>
          a.serial === serial
            ? Exit.succeed({
                serial: a.serial,
                status: a.status,
                revokedAt: a.revokedAt,
                reason: a.reason,
                staple: a.staple
              })
            : Exit.fail(protocolError(endpoint, `a Status of ${serial} answered for ${a.serial}`))
      ),
    crl: call(
      (id) => ({ _tag: "irp.Crl", id }),
      "crl",
      (a) => Exit.succeed(a.der)
    ),
    revoke: (serial, reason = "unspecified") => ok((id) => ({ _tag: "irp.Revoke", id, serial, reason })),
    domainInfo: (domain, options) =>
      call(
        (id) =>
          options?.relay === true
            ? { _tag: "irp.DomainInfo", id, domain: normalizeDomain(domain) ?? domain }
            : { _tag: "irp.DomainInfo", id },
        "irp.DomainInfoResult",
        (a) => checkDomainInfo(endpoint, domain, a)
      ),
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
            return drop.length === 0 || failure() !== undefined
              ? Effect.void
              : Effect.ignore(ok((id) => ({ _tag: "irp.Unwatch", id, handles: drop })))
          })
        )
        const wanted = new Set<string>(handles)
        return Stream.fromQueue(subscription).pipe(
          Stream.filter((c) => wanted.has(c.handle)),
          Stream.map((c) => ({ handle: c.handle, status: c.status, bindings: c.bindings })),
          Stream.interruptWhen(closed)
        )
      }),
    ping,
    close
  }
}
