/**
 * The decoders of the answers that say how things stand rather than what they hold: `<StatusResult>`
 * (a certificate's revocation status and its staple, PROTOCOL.md §17.8) and `<Error>`; each with a fast
 * reader in front of its Schema path (the contract is in `./parts.ts`). Pure.
 */
import { Either } from "effect"
import { isBlank } from "../../xml/chars.js"
import { isOf } from "../../xml/is.js"
import type { XmlElement } from "../../xml/model.js"
import { decodeWith, readAttributes, readChildren, readInt } from "../../xml/read.js"
import { base64Decode, decimalInt, parseUtcTimestamp } from "../../xml/values.js"
import { RevocationReason } from "../certificates.js"
import { ErrorCode, ErrorMessage, IrpError, type IrpServerMessage, RetryAfterMs, StatusResult } from "../messages.js"
import {
  attributesOnly,
  isEmpty,
  isEpochMs,
  isId,
  isSerial,
  leafBase64,
  type MessageDecoder,
  readTime
} from "./parts.js"

const isReason = isOf(RevocationReason)
const isErrorCode = isOf(ErrorCode)
const isErrorMessage = isOf(ErrorMessage)
const isRetryAfter = isOf(RetryAfterMs)

const statusResult = decodeWith(StatusResult, "<StatusResult>")
const error = decodeWith(IrpError, "<Error>")

/** The optional `<Staple>` child of a good `<StatusResult>` (§17.8.1): canonical base64, 1 to 1024 bytes. */
const stapleOf = (e: XmlElement): Uint8Array | null | undefined => {
  if (e.children.length === 0) return e.text === "" ? null : undefined
  const child = e.children[0]!
  if (e.children.length !== 1 || !isBlank(e.text) || child.name !== "Staple" || child.namespace !== e.namespace)
    return undefined
  if (child.attributes.length !== 0 || child.children.length !== 0) return undefined
  const bytes = base64Decode(child.text)
  return bytes !== undefined && bytes.length >= 1 && bytes.length <= 1024 ? bytes : undefined
}

/** The decoders of `<StatusResult>` and `<Error>`, by element name. */
export const statusDecoders: Readonly<Record<"StatusResult" | "Error", MessageDecoder<IrpServerMessage>>> = {
  StatusResult: {
    fast: (e) => {
      const staple = stapleOf(e)
      if (staple === undefined) return undefined
      let id: string | undefined
      let serial: string | undefined
      let status: string | undefined
      let revokedAtText: string | undefined
      let reason: string | undefined
      for (const a of e.attributes)
        if (a.name === "id") id = a.value
        else if (a.name === "serial") serial = a.value
        else if (a.name === "status") status = a.value
        else if (a.name === "revokedAt") revokedAtText = a.value
        else if (a.name === "reason") reason = a.value
        else return undefined
      if (!isId(id) || !isSerial(serial)) return undefined
      if (status === "revoked") {
        if (revokedAtText === undefined || !isReason(reason) || staple !== null) return undefined
        const revokedAt = parseUtcTimestamp(revokedAtText)
        return revokedAt !== undefined && isEpochMs(revokedAt)
          ? { _tag: "irp.StatusResult", id, serial, status, revokedAt, reason }
          : undefined
      }
      if (staple !== null)
        return status === "good" && revokedAtText === undefined && reason === undefined
          ? { _tag: "irp.StatusResult", id, serial, status, staple }
          : undefined
      return (status === "good" || status === "unknown") && revokedAtText === undefined && reason === undefined
        ? { _tag: "irp.StatusResult", id, serial, status }
        : undefined
    },
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* readAttributes(e, ["id", "serial", "status"], ["revokedAt", "reason"])
        const c = yield* readChildren(e, [{ name: "Staple", min: 0, max: 1 }])
        const staple = c.Staple[0] === undefined ? undefined : yield* leafBase64(c.Staple[0])
        const revokedAt =
          a.revokedAt === undefined ? undefined : yield* readTime(a.revokedAt, "<StatusResult> revokedAt")
        return yield* statusResult({
          _tag: "irp.StatusResult",
          id: a.id,
          serial: a.serial,
          status: a.status,
          ...(revokedAt === undefined ? {} : { revokedAt }),
          ...(a.reason === undefined ? {} : { reason: a.reason }),
          ...(staple === undefined ? {} : { staple })
        })
      })
  },
  Error: {
    fast: (e) => {
      if (!isEmpty(e)) return undefined
      let id: string | undefined
      let code: string | undefined
      let message: string | undefined
      let retryText: string | undefined
      for (const a of e.attributes)
        if (a.name === "id") id = a.value
        else if (a.name === "code") code = a.value
        else if (a.name === "message") message = a.value
        else if (a.name === "retryAfterMs") retryText = a.value
        else return undefined
      if (!isErrorCode(code) || !isErrorMessage(message) || (id !== undefined && !isId(id))) return undefined
      const retryAfterMs = retryText === undefined ? undefined : decimalInt(retryText, 8)
      if (retryText !== undefined && (retryAfterMs === undefined || !isRetryAfter(retryAfterMs))) return undefined
      return {
        _tag: "irp.Error",
        ...(id === undefined ? {} : { id }),
        code,
        message,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs })
      }
    },
    schema: (e) =>
      Either.gen(function* () {
        const a = yield* attributesOnly(e, ["code", "message"], ["id", "retryAfterMs"])
        const retryAfterMs =
          a.retryAfterMs === undefined ? undefined : yield* readInt(a.retryAfterMs, "<Error> retryAfterMs", 8)
        return yield* error({
          _tag: "irp.Error",
          code: a.code,
          message: a.message,
          ...(a.id === undefined ? {} : { id: a.id }),
          ...(retryAfterMs === undefined ? {} : { retryAfterMs })
        })
      })
  }
}
