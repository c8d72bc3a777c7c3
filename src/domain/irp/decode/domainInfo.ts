/**
 * The decoders of `<DomainInfo>` and `<DomainInfoResult>` (PROTOCOL.md §22.3.1), Schema path only: a
 * federation session asks once per hour, not per message. Pure.
 */
import { Either } from "effect"
import { decodeWith, readAttributes, readChildren } from "../../xml/read.js"
import { DomainInfo, DomainInfoResult } from "../domainInfo.js"
import type { IrpRequest, IrpServerMessage } from "../messages.js"
import { attributesOnly, leafBase64, type MessageDecoder } from "./parts.js"

const domainInfo = decodeWith(DomainInfo, "<DomainInfo>")
const domainInfoResult = decodeWith(DomainInfoResult, "<DomainInfoResult>")

export const domainInfoRequestDecoders: Readonly<Record<"DomainInfo", MessageDecoder<IrpRequest>>> = {
  DomainInfo: {
    schema: (e) =>
      Either.flatMap(attributesOnly(e, ["id"], ["domain"]), (a) =>
        domainInfo({ _tag: "irp.DomainInfo", id: a.id, ...(a.domain === undefined ? {} : { domain: a.domain }) })
      )
  }
}

export const domainInfoAnswerDecoders: Readonly<Record<"DomainInfoResult", MessageDecoder<IrpServerMessage>>> = {
  DomainInfoResult: {
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id", "domain", "policy"])
        const c = yield* readChildren(e, [{ name: "Cert", min: 1, max: 1 }])
        return yield* domainInfoResult({ _tag: "irp.DomainInfoResult", ...a, root: yield* leafBase64(c.Cert[0]!) })
      })
  }
}
