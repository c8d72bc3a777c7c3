/**
 * How the people commands show things: messages, states, sizes, times, fingerprints. Pure (local
 * time zone aside). Text from peers passes through `printable` before it reaches a terminal, so a
 * message cannot move the cursor, rewrite a line (`\r`) or send escape sequences (C1 `CSI` included).
 */
import { claimedSent, type StoredMessage } from "../../domain/agent/messages.js"
import type { Transfer } from "../../domain/agent/transfers.js"
import type { Handle } from "../../domain/brands.js"

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** Text safe to print: controls (except newline and tab) and bidi overrides become U+FFFD. */
export const printable = (text: string): string => text.replace(CONTROL, "\uFFFD")

/** Continuation lines of a multi-line body, indented under the first. */
export const indentBody = (body: string, indent: number): string =>
  printable(body).replace(/\n/g, `\n${" ".repeat(indent)}`)

const pad2 = (n: number) => String(n).padStart(2, "0")

/** `HH:MM` in local time. */
export const clock = (ms: number): string => {
  const d = new Date(ms)
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`
}

/** `YYYY-MM-DD HH:MM` in local time. */
export const dateTime = (ms: number): string => {
  const d = new Date(ms)
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clock(ms)}`
}

/** RFC 3339 UTC, or null. */
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

/** The delivery mark of a message, as chat shows it. */
export const stateMark = (m: Pick<StoredMessage, "direction" | "state">): string => {
  switch (m.state) {
    case "queued":
      return "…"
    case "sent":
      return "✓"
    case "delivered":
      return "✓✓"
    case "read":
      return m.direction === "out" ? "✓✓ read" : ""
    case "cancelled":
      return "✗ cancelled"
    case "expired":
      return "✗ failed: not delivered in time"
    case "received":
      return ""
  }
}

/** The state in words, as history shows it. */
export const stateWord = (m: Pick<StoredMessage, "direction" | "state">): string =>
  m.direction === "in"
    ? m.state === "read"
      ? "read"
      : "unread"
    : m.state === "expired"
      ? "failed: expired undelivered"
      : m.state

/** The local part of a handle (`bob` of `bob@example.org`). */
export const localPart = (handle: Handle): string => handle.slice(0, handle.lastIndexOf("@"))

/**
 * What the sender's own stamp said, when it is far from the arrival time: `; sent 2020-01-01 00:00
 * by their clock`. The time shown first is always when the message arrived (issue 10, section 6).
 */
export const sentNote = (m: StoredMessage): string => {
  const sent = claimedSent(m)
  return sent === undefined ? "" : `; sent ${dateTime(sent)} by their clock`
}

/**
 * One history line: `2025-01-02 10:04  you → bob@example.org  hello  (delivered)`. The time is
 * when it was written (outgoing) or arrived (incoming).
 */
export const historyLine = (m: StoredMessage): string => {
  const stamp = dateTime(m.at)
  const who = m.direction === "out" ? `you → ${m.peer}` : `${m.peer} → you`
  const head = `${stamp}  ${who}  `
  return `${head}${indentBody(m.body, head.length)}  (${stateWord(m)}${sentNote(m)})`
}

/** JSON shape of `history --json`: id, peer, direction, body, state and times (RFC 3339 UTC or null). */
export const historyJson = (m: StoredMessage) => ({
  id: m.id,
  peer: m.peer,
  direction: m.direction,
  body: m.body,
  state: m.state,
  at: iso(m.at),
  createdAt: iso(m.createdAt),
  sentAt: iso(m.sentAt),
  deliveredAt: iso(m.deliveredAt),
  readAt: iso(m.readAt),
  receivedAt: iso(m.receivedAt),
  cancelledAt: iso(m.cancelledAt),
  expiredAt: iso(m.expiredAt),
  /** `true` for a message that will never be delivered (it expired undelivered). */
  failed: m.state === "expired"
})

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const

/** `1.5 MiB`. */
export const bytes = (n: number): string => {
  let value = n
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${n} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`
}

/** `0:07`, `12:30`, `1:02:03`. */
export const duration = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h > 0 ? `${h}:${pad2(m)}:${pad2(s % 60)}` : `${m}:${pad2(s % 60)}`
}

/** A fingerprint in groups of four: `ab12 cd34 …`. */
export const groupedHex = (hex: string): string => hex.replace(/(.{4})(?=.)/g, "$1 ")

/** The name a transfer shows (the offered name of an incoming one, made printable). */
export const transferName = (t: Transfer): string => printable(t.direction === "out" ? t.name : t.offeredName)

/** The bytes a transfer has moved so far. */
export const transferDone = (t: Transfer): number => (t.direction === "out" ? t.ackedOffset : t.receivedOffset)
