/**
 * The User Agent's tunable behaviour (issue 4, sections 1-2): key policy, receipts, and the timing of
 * sessions and dials. Defaults are the production values; tests pass small ones.
 */
import { Duration } from "effect"
import type { ChannelOptions } from "../../channel/SecureChannelLive.js"

export interface AgentOptions {
  /** Refuse a peer whose key changed until the user accepts it (`sixchat trust HANDLE`; PROTOCOL.md §13). */
  readonly strictKeys: boolean
  /** Send `<Read>` receipts when the user reads a conversation. */
  readonly receipts: boolean
  /** Send typing notices and report the peer's. */
  readonly typing: boolean
  /** Send `<Ping/>` when nothing arrived on a session for this long (default 30 s). */
  readonly keepAlive: Duration.DurationInput
  /** End a session on which nothing at all arrived for this long, pings unanswered (default 90 s). */
  readonly deadAfter: Duration.DurationInput
  /** Close a session that carried no application message for this long (default 10 minutes). */
  readonly idleClose: Duration.DurationInput
  /** Happy Eyeballs: delay before the next address is tried in parallel (default 250 ms, RFC 8305). */
  readonly dialStagger: Duration.DurationInput
  /**
   * Two connections with the same peer completing within this window are a simultaneous open (PROTOCOL.md
   * §15.4); a new one arriving later means the peer lost the old one (default 30 s, above the
   * connect plus handshake limits).
   */
  readonly simultaneousWindow: Duration.DurationInput
  /** Longest a `<Close/>` may take to leave before the connection is reset (default 2 s). */
  readonly closeTimeout: Duration.DurationInput
  /**
   * Connections in their handshake at once (default 64). When full, the source holding the most loses
   * its oldest to a newcomer (issue 10 §4, `domain/admission.ts`; PROTOCOL.md §15.7).
   */
  readonly maxHandshakes: number
  /** Connections in their handshake at once from one IPv4 address or IPv6 /64 (default 8); more are refused. */
  readonly maxHandshakesPerSource: number
  /** Delivery dials in flight at the same time (default 16). */
  readonly maxDials: number
  /**
   * How long an undeliverable message or file offer waits before it is given up and shown as failed
   * (issue 13, item 4; default 7 days): a message counts from when it was written, a file from its
   * last progress. `sixchat agent --outbox-expiry`.
   */
  readonly outboxExpiry: Duration.DurationInput
  /** Passed to the secure channel (handshake, idle, write and connect limits). */
  readonly channel: Partial<ChannelOptions>
}

export const defaultAgentOptions: AgentOptions = {
  strictKeys: false,
  receipts: true,
  typing: true,
  keepAlive: Duration.seconds(30),
  deadAfter: Duration.seconds(90),
  idleClose: Duration.minutes(10),
  dialStagger: Duration.millis(250),
  simultaneousWindow: Duration.seconds(30),
  closeTimeout: Duration.seconds(2),
  maxHandshakes: 64,
  maxHandshakesPerSource: 8,
  maxDials: 16,
  outboxExpiry: Duration.days(7),
  channel: {}
}

/** The same options with every duration in milliseconds. */
export interface ResolvedOptions extends AgentOptions {
  readonly keepAliveMs: number
  readonly deadAfterMs: number
  readonly idleCloseMs: number
  readonly dialStaggerMs: number
  readonly simultaneousWindowMs: number
  readonly closeTimeoutMs: number
  readonly outboxExpiryMs: number
}

export const resolveOptions = (options: Partial<AgentOptions> = {}): ResolvedOptions => {
  const o = { ...defaultAgentOptions, ...options }
  const ms = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d))
  return {
    ...o,
    keepAliveMs: ms(o.keepAlive),
    deadAfterMs: ms(o.deadAfter),
    idleCloseMs: ms(o.idleClose),
    dialStaggerMs: ms(o.dialStagger),
    simultaneousWindowMs: ms(o.simultaneousWindow),
    closeTimeoutMs: ms(o.closeTimeout),
    outboxExpiryMs: ms(o.outboxExpiry)
  }
}
