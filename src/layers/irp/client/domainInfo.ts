/**
 * The client's check of a `<DomainInfoResult>` (PROTOCOL.md §22.3.1): it answers for the domain asked
 * about, and its root may stand as that domain's users' CA (§22.3.2, `checkDomainRoot`).
 */
import { Exit } from "effect"
import { normalizeDomain } from "../../../domain/federation/discovery.js"
import { checkDomainRoot } from "../../../domain/federation/domainRoot.js"
import type { DomainInfoResult } from "../../../domain/irp/domainInfo.js"
import { type DomainInfoRecord, type DomainRoot, IrpClientError } from "../../../services/IrpClient.js"
import { type Endpoint, protocolError, where } from "./errors.js"

export const checkDomainInfo = (
  endpoint: Endpoint,
  expected: string,
  answer: DomainInfoResult
): Exit.Exit<DomainInfoRecord, IrpClientError> => {
  const domain = normalizeDomain(expected) ?? expected
  if (answer.domain !== domain)
    return Exit.fail(
      new IrpClientError({
        reason: "WrongDomain",
        message: `${where(endpoint)} is the IRP of ${answer.domain}, not of ${domain}: check the domain and the server's address.`
      })
    )
  const checked = checkDomainRoot(answer.root, domain)
  if (checked._tag === "Refused")
    return Exit.fail(
      new IrpClientError({
        reason: "DomainRootRefused",
        message: `${where(endpoint)} published a CA that cannot be accepted: ${checked.message}.`,
        cause: checked
      })
    )
  return Exit.succeed({ domain, policy: answer.policy, root: answer.root, rootCertificate: checked.root })
}

/**
 * The `<DomainCa>` of a foreign handle's `<LookupResult>` (PROTOCOL.md §22.3.3): it must be fit to vouch for
 * the handle's domain alone (§22.3.2). A handle of no domain is a protocol error.
 */
export const checkDomainCa = (
  endpoint: Endpoint,
  handle: string,
  der: Uint8Array
): Exit.Exit<DomainRoot, IrpClientError> => {
  const domain = normalizeDomain(handle.slice(handle.lastIndexOf("@") + 1))
  if (domain === undefined) return Exit.fail(protocolError(endpoint, `a DomainCa came with ${handle}`))
  const checked = checkDomainRoot(der, domain)
  return checked._tag === "Refused"
    ? Exit.fail(
        new IrpClientError({
          reason: "DomainRootRefused",
          message: `${where(endpoint)} relayed a CA for ${domain} that cannot be accepted: ${checked.message}.`,
          cause: checked
        })
      )
    : Exit.succeed({ root: der, rootCertificate: checked.root })
}
