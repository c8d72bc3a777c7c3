/**
 * A scripted IRP federation for agent tests (PROTOCOL.md §22.4): every agent's `IrpClients` answers as
 * its home IRP would after relaying. Lookups of a foreign handle carry that domain's root (`<DomainCa>`),
 * `DomainInfo` with `relay` answers for the domain asked about, `Status` answers `good` (no staple) and
 * records whether `domain=` was given, a domain may refuse (`federation_refused`) or be unreachable
 * (`federation_unavailable`). Registrations are real (the agents' addresses on loopback), so the agents
 * then dial each other directly over TCP and verify each other's chains for real.
 *
 * The roots are handed to the agent unchecked (as a home IRP that does not check would): the agent's own
 * checks are what the tests exercise.
 */
import { Effect, Layer, Stream } from "effect"
import { type Handle, handleDomain } from "../../../src/domain/brands.js"
import { handleOf } from "../../../src/domain/cert/identity.js"
import { parseCertificate } from "../../../src/domain/cert/parse.js"
import type { FederationMode } from "../../../src/domain/federation/policy.js"
import type { BindingInfo } from "../../../src/domain/irp/messages.js"
import { type IrpClient, IrpClientError, IrpClients } from "../../../src/services/IrpClient.js"

export interface WorldDomain {
  root: Uint8Array
  policy: FederationMode
  /** Set: relaying to this domain fails with this reason. */
  failing?: "federation_refused" | "federation_unavailable" | undefined
}

export interface World {
  readonly domains: Map<string, WorldDomain>
  /** The certificate each handle holds at its IRP (leaf first). */
  readonly people: Map<Handle, ReadonlyArray<Uint8Array>>
  readonly bindings: Map<Handle, ReadonlyArray<BindingInfo>>
  /** Every `Status` asked: by whom, and the `domain=` given. */
  readonly statusAsked: Array<{ readonly by: Handle; readonly domain: string | undefined }>
  readonly domainInfoAsked: Array<{ readonly by: Handle; readonly domain: string }>
  readonly layer: Layer.Layer<IrpClients>
}

const parsed = (der: Uint8Array) => {
  const p = parseCertificate(der)
  if (p._tag !== "Parsed") throw new Error("a test root does not parse")
  return p.certificate
}

export const makeWorld = (): World => {
  const domains = new Map<string, WorldDomain>()
  const people = new Map<Handle, ReadonlyArray<Uint8Array>>()
  const bindings = new Map<Handle, ReadonlyArray<BindingInfo>>()
  const statusAsked: Array<{ by: Handle; domain: string | undefined }> = []
  const domainInfoAsked: Array<{ by: Handle; domain: string }> = []

  const refusal = (asker: Handle, domain: string) => {
    const d = domains.get(domain)
    if (d?.failing === "federation_refused")
      return new IrpClientError({
        reason: "federation_refused",
        message: `${domain} does not accept federation from ${handleDomain(asker)}.`
      })
    if (d?.failing === "federation_unavailable" || d === undefined)
      return new IrpClientError({
        reason: "federation_unavailable",
        message: `The IRP of ${domain} did not answer within 5 s.`
      })
    return undefined
  }

  const clientFor = (self: Handle): IrpClient => {
    const home = handleDomain(self)
    const unsupported = Effect.die("not used by these tests")
    return {
      server: undefined,
      handle: self,
      enroll: () => unsupported,
      renew: () => unsupported,
      register: (input) =>
        Effect.sync(() => {
          const binding: BindingInfo = {
            deviceId: input.deviceId,
            addresses: input.addresses as BindingInfo["addresses"],
            expiresAt: Date.now() + input.ttlSeconds * 1000,
            seq: input.seq
          }
          bindings.set(self, [binding])
          return { bindings: [binding], observed: input.addresses[0], natSuspected: false }
        }),
      deregister: () => Effect.sync(() => void bindings.delete(self)),
      deregisterAll: Effect.sync(() => void bindings.delete(self)),
      lookup: (handle) =>
        Effect.suspend(() => {
          const domain = handleDomain(handle)
          const foreign = domain !== home
          const refused = foreign ? refusal(self, domain) : undefined
          if (refused !== undefined) return Effect.fail(refused)
          const chain = people.get(handle)
          if (chain === undefined)
            return Effect.fail(new IrpClientError({ reason: "not_found", message: `${handle} is unknown` }))
          const root = domains.get(domain)?.root
          return Effect.succeed({
            handle,
            status: "good" as const,
            chain,
            bindings: bindings.get(handle) ?? [],
            domainRoot: foreign && root !== undefined ? { root, rootCertificate: parsed(root) } : undefined
          })
        }),
      status: (serial, options) =>
        Effect.suspend(() => {
          statusAsked.push({ by: self, domain: options?.domain })
          const refused = options?.domain === undefined ? undefined : refusal(self, options.domain)
          return refused === undefined ? Effect.succeed({ serial, status: "good" as const }) : Effect.fail(refused)
        }),
      crl: unsupported,
      revoke: () => unsupported,
      domainInfo: (domain, options) =>
        Effect.suspend(() => {
          domainInfoAsked.push({ by: self, domain })
          const refused = options?.relay === true ? refusal(self, domain) : undefined
          if (refused !== undefined) return Effect.fail(refused)
          const d = domains.get(domain)!
          return Effect.succeed({ domain, policy: d.policy, root: d.root, rootCertificate: parsed(d.root) })
        }),
      watch: () => Effect.succeed(Stream.never),
      ping: Effect.void,
      close: Effect.void
    }
  }

  const layer = Layer.succeed(IrpClients, {
    connect: (options) =>
      Effect.sync(() => {
        const leaf = options.identity?.chain[0]
        const handle = leaf === undefined ? undefined : handleOf(parsed(leaf))
        if (handle === undefined) throw new Error("the fake IRP serves enrolled agents only")
        return clientFor(handle)
      })
  })
  return { domains, people, bindings, statusAsked, domainInfoAsked, layer }
}
