/**
 * The identity home directory of a user (`--home`, `$SIXCHAT_HOME`, `~/.sixchat`): what lives there
 * and the schema of its `identity.json`. Pure.
 */
import { Schema } from "effect"
import { Handle } from "../brands.js"

export const HomeFile = {
  /** Our private key, PEM, mode 0600: plain PKCS#8, encrypted PKCS#8 or our scrypt format (docs/KEYS.md). */
  key: "key.pem",
  /** The CSR made by `id new`, sent by `id enroll`. */
  csr: "csr.pem",
  /** Our certificate chain after enrolment, leaf first. */
  cert: "cert.pem",
  /** The domain's root certificate, our trust anchor. */
  ca: "ca.pem",
  /** Handle, IRP address and server name, device id. */
  identity: "identity.json"
} as const

export const IdentityConfig = Schema.Struct({
  version: Schema.Literal(1),
  handle: Handle,
  /** Stable id of this device in the IRP registry. */
  deviceId: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9._-]{1,64}$/)),
  /** `host:port` of the domain's IRP server, set by `id enroll`. */
  irp: Schema.optional(Schema.String),
  /** The DNS name the IRP server's certificate must carry. */
  irpServerName: Schema.optional(Schema.String)
})
export type IdentityConfig = typeof IdentityConfig.Type
export const IdentityConfigJson = Schema.parseJson(IdentityConfig, { space: 2 })
