/**
 * The client's check of a `<DomainInfoResult>` (PROTOCOL.md §22.3.1): it answers for the domain asked
 * about, and its root may stand as that domain's users' CA (§22.3.2, `checkDomainRoot`).
 */
import { Exit } from "effect"
import { normalizeDomain } from "../../../domain/federation/discovery.js"
import { checkDomainRoot } from "../../../domain/federation/domainRoot.js"
import type { DomainInfoResult } from "../../../domain/irp/domainInfo.js"
import { type DomainInfoRecord, IrpClientError } from "../../../services/IrpClient.js"
import { type Endpoint, where } from "./errors.js"

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
