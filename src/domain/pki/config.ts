/**
 * The files of a domain directory written by `sixchat irp init` and the schema of its `irp.json`
 * (IRP issue section 1). Pure.
 */
import { Schema } from "effect"
import { defaultFederationPolicy, FederationPolicy } from "../federation/policy.js"
import { isDomainName, isValidityDays } from "./profile.js"

/** File names inside DIR. Keys are PKCS#8 PEM, mode 0600; certificates are PEM. */
export const DomainFile = {
  /** The root certificate: the trust anchor users configure (`--trust DIR/ca.pem`). */
  ca: "ca.pem",
  /** The root's private key. Move it offline once the domain is set up: only a new issuing CA needs it. */
  rootKey: "root-key.pem",
  issuingCa: "issuing-ca.pem",
  /** The online key the IRP server signs client certificates and CRLs with. */
  issuingKey: "issuing-key.pem",
  /** The server certificate followed by the issuing CA certificate (the chain the server presents). */
  server: "server.pem",
  serverKey: "server-key.pem",
  config: "irp.json",
  /** The public chain for `irp.<domain>` from a public CA (PROTOCOL.md §22.2.1), when the IRP federates. */
  publicChain: "public.pem",
  publicKey: "public-key.pem"
} as const

export const DEFAULT_IRP_PORT = 4604

/** The storage of a domain whose irp.json names none: the SQLite file in DIR. */
export const DEFAULT_DB = "sqlite:irp.sqlite"

const DomainName = Schema.String.pipe(
  Schema.filter((s) => isDomainName(s) || "a lower-case DNS name such as example.org")
)
const Days = Schema.Number.pipe(Schema.filter((n) => isValidityDays(n) || "a whole number of days from 1 to 36500"))

export const IrpConfig = Schema.Struct({
  version: Schema.Literal(1),
  domain: DomainName,
  /** The name clients expect in the server certificate's SAN dNSName (its CN). */
  serverName: DomainName,
  /** Every SAN dNSName of the server certificate, `serverName` first. */
  serverNames: Schema.Array(DomainName).pipe(Schema.minItems(1)),
  /** `host:port` / `[v6]:port` listeners for `irp serve` when no `--listen` is given. */
  listen: Schema.Array(Schema.String),
  /**
   * The domain's storage, read by every operator command (`irp serve`, `irp token`, `irp revoke`); same
   * syntax as `--db`: `sqlite:PATH` (relative to DIR) or a `postgres://` URL. Set by `irp init --db`; an
   * irp.json written before the field existed means the SQLite file in DIR.
   */
  db: Schema.optionalWith(Schema.String, { default: () => DEFAULT_DB }),
  clientValidityDays: Days,
  /**
   * When set, client certificates live this many seconds instead of `clientValidityDays` (short-lived
   * certificates, renewed by the agents: PROTOCOL.md 17.4.8). From 30 seconds (tests) to 100 years.
   */
  clientValiditySeconds: Schema.optional(Schema.Int.pipe(Schema.between(30, 36_500 * 86_400))),
  serverValidityDays: Days,
  /** How long `irp token` tokens live unless `--ttl` says otherwise. */
  tokenTtlSeconds: Schema.Int.pipe(Schema.between(60, 30 * 86_400)),
  /** nextUpdate of a CRL = thisUpdate + this many hours. */
  crlValidityHours: Schema.Int.pipe(Schema.between(1, 24 * 31)),
  /**
   * Life of a stapled status the server signs (PROTOCOL.md §13.6.1); absent: 300. At most 600, the
   * longest a relying party accepts; a short one (tests) makes revocation bite sooner.
   */
  stapleLifetimeSeconds: Schema.optional(Schema.Int.pipe(Schema.between(5, 600))),
  /** PROTOCOL.md §22.5: with which domains this IRP federates; absent: closed. */
  federation: Schema.optionalWith(FederationPolicy, { default: () => defaultFederationPolicy, exact: true }),
  /**
   * PROTOCOL.md §22.2.1: the public chain (PEM, leaf first) and its key, paths relative to DIR (`irp init
   * --server-cert`, `irp public-cert` copy them to public.pem and public-key.pem; an operator may point
   * them at the files an ACME client renews). Absent: the IRP has no public chain.
   */
  publicChain: Schema.optional(Schema.Struct({ cert: Schema.String, key: Schema.String }))
})
export type IrpConfig = typeof IrpConfig.Type

/** `irp.json` text <-> config. */
export const IrpConfigJson = Schema.parseJson(IrpConfig, { space: 2 })

export const defaultIrpConfig = (params: {
  readonly domain: string
  readonly serverNames: ReadonlyArray<string>
  readonly clientValidityDays: number
  readonly serverValidityDays: number
  readonly db?: string | undefined
}): IrpConfig => ({
  version: 1,
  domain: params.domain,
  serverName: params.serverNames[0]!,
  serverNames: params.serverNames,
  listen: [`[::]:${DEFAULT_IRP_PORT}`, `0.0.0.0:${DEFAULT_IRP_PORT}`],
  db: params.db ?? DEFAULT_DB,
  clientValidityDays: params.clientValidityDays,
  serverValidityDays: params.serverValidityDays,
  tokenTtlSeconds: 86_400,
  crlValidityHours: 24,
  federation: defaultFederationPolicy
})
