/**
 * RequestLog: the IRP server's request log, one record per answered request, taken synchronously
 * (IRP issue section 4). Implementations and the fallback live in `layers/irp/server/requestLog.ts`.
 */
import { Context } from "effect"

/** One answered request. */
export interface RequestRecord {
  /** The holder's handle, or `anonymous`. */
  readonly peer: string
  /** The connection's source address. */
  readonly remote: string
  /** The request element (`Lookup`, `Register`…), or `invalid:<element>` for one that was refused unread. */
  readonly request: string
  /** The request's id, or `-`. */
  readonly id: string
  /** `ok`, or the `<Error>` code answered. */
  readonly outcome: string
  /** Milliseconds from reading the request to sending its answer. */
  readonly ms: number
}

export interface RequestLogService {
  /** Records one request; must be quick and must not throw. */
  readonly write: (record: RequestRecord) => void
}

export class RequestLog extends Context.Tag("sixchat/IrpRequestLog")<RequestLog, RequestLogService>() {}
