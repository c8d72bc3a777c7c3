/**
 * Frames over a transport connection (PROTOCOL.md §3): a bounded reader and the alert writer.
 */
import { Effect } from "effect"
import { encodeFrame, FrameDecoder, FrameError } from "../../domain/channel/framing.js"
import type { RecordProtection } from "../../domain/channel/record.js"
import { ContentType } from "../../domain/channel/record.js"
import type { AlertCode } from "../../domain/e2e/messages.js"
import { encodeE2E } from "../../domain/e2e/xml.js"
import { truncateUtf8 } from "../../domain/xml/chars.js"
import { ChannelError } from "../../services/SecureChannel.js"
import type { Connection } from "../../services/Transport.js"

export const transportError = (cause: unknown): ChannelError =>
  new ChannelError({
    reason: "Transport",
    message: `the connection failed: ${(cause as { message?: string })?.message ?? String(cause)}`,
    cause
  })

const frameError = (e: FrameError): ChannelError =>
  new ChannelError({ reason: "Frame", message: e.message, alert: "record_overflow", cause: e })

/** Reads whole frames; holds at most one frame plus the chunk that completed it. */
export class FrameReader {
  readonly decoder: FrameDecoder
  /** The next frame payload, or `null` when the peer ended the stream at a frame boundary. */
  readonly next: Effect.Effect<Uint8Array | null, ChannelError>

  constructor(
    private readonly conn: Connection,
    limit: number
  ) {
    const decoder = new FrameDecoder(limit)
    this.decoder = decoder
    const pull: Effect.Effect<Uint8Array | null, ChannelError> = Effect.suspend(() => {
      const frame = decoder.next()
      if (frame instanceof FrameError) return Effect.fail(frameError(frame))
      if (frame !== undefined) return Effect.succeed(frame)
      return Effect.flatMap(Effect.mapError(conn.read, transportError), (chunk) => {
        if (chunk === null) {
          const torn = decoder.endOfStream()
          return torn === undefined ? Effect.succeed(null) : Effect.fail(frameError(torn))
        }
        decoder.push(chunk)
        return pull
      })
    })
    this.next = pull
  }

  /**
   * The established channel's per-record path: a function that hands the next frame payload (`null` at a
   * clean end of stream, the failure as a value) to `onFrame`, called with no effect in between. A frame
   * already buffered is handed over at once; otherwise one read of the connection, whose chunk goes
   * straight into the decoder and, once a frame is whole, to `onFrame` in the same step (issue 15: a
   * `succeed`, a `flatMap` and a `suspend` fewer per record than reading the frame as an effect).
   * Built once per channel.
   */
  frames<A, E>(onFrame: (frame: Uint8Array | null | ChannelError) => Effect.Effect<A, E>): () => Effect.Effect<A, E> {
    const decoder = this.decoder
    const next = (): Effect.Effect<A, E> => {
      const frame = decoder.next()
      if (frame instanceof FrameError) return onFrame(frameError(frame))
      if (frame !== undefined) return onFrame(frame)
      return readChunk
    }
    const readChunk: Effect.Effect<A, E> = Effect.matchEffect(this.conn.read, {
      onFailure: (e) => onFrame(transportError(e)),
      onSuccess: (chunk) => {
        if (chunk === null) {
          const torn = decoder.endOfStream()
          return onFrame(torn === undefined ? null : frameError(torn))
        }
        decoder.push(chunk)
        return next()
      }
    })
    return next
  }
}

/** Best effort: tell the peer why we are closing (sealed when keys exist), never failing. */
export const sendAlert = (
  conn: Connection,
  code: AlertCode,
  protection: RecordProtection | undefined,
  description?: string
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const alert = encodeE2E({
      _tag: "e2e.Alert",
      code,
      // §5.2.1: at most 256 bytes of UTF-8; we send at most 200.
      ...(description === undefined ? {} : { description: truncateUtf8(description, 200) })
    })
    const frame = protection === undefined ? encodeFrame(alert) : protection.seal(ContentType.Xml, alert)
    return conn.write(frame)
  }).pipe(Effect.ignore)

/**
 * Ends our side (FIN after pending writes), then reads and discards what the peer still sends, for at
 * most 1 s and 256 KiB, before closing: closing a socket with unread input sends a reset, which can
 * destroy the alert we just sent before the peer reads it.
 */
export const lingerClose = (conn: Connection): Effect.Effect<void> => {
  let budget = 256 * 1024
  const drain: Effect.Effect<void, unknown> = Effect.flatMap(conn.read, (chunk) => {
    if (chunk === null) return Effect.void
    budget -= chunk.length
    return budget > 0 ? drain : Effect.void
  })
  return conn.end.pipe(Effect.zipRight(drain), Effect.timeout("1 second"), Effect.ignore, Effect.ensuring(conn.destroy))
}
