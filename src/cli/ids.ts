/**
 * Identifiers and timestamps as the wire wants them (PROTOCOL.md §4): ULIDs and RFC 3339 UTC.
 */
import { randomFillSync } from "node:crypto"
import type { Ulid } from "../domain/brands.js"
import type { Timestamp } from "../domain/e2e/messages.js"
import { ulidFrom } from "../domain/ulid.js"

export const newMessageId = (now = Date.now()): Ulid => ulidFrom(now, randomFillSync(new Uint8Array(10)))

export const rfc3339 = (date: Date): Timestamp => date.toISOString() as Timestamp
