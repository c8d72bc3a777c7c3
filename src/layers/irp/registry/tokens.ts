/**
 * Enrolment tokens in the SQL registry (PROTOCOL.md §17.4.4). A token is consumed by one conditional
 * `UPDATE … WHERE used_at IS NULL … RETURNING`: concurrent updaters queue on the row lock and re-check the
 * condition, so exactly one sees a row come back, across processes on PostgreSQL too.
 */
import { Effect, Encoding } from "effect"
import type { IrpRegistryService } from "../../../services/IrpRegistry.js"
import { fail, type Store } from "./store.js"

export const makeTokens = ({ sql, read }: Store): Pick<IrpRegistryService, "createToken" | "consumeToken"> => ({
  createToken: Effect.fn("IrpRegistry.createToken")(function* ({ handle, tokenHash, expiresAt }) {
    const rows = yield* read(sql`INSERT INTO irp_tokens (token_hash, handle, expires_at, used_at)
      VALUES (${Encoding.encodeHex(tokenHash)}, ${handle}, ${Math.floor(expiresAt)}, NULL)
      ON CONFLICT (token_hash) DO NOTHING RETURNING token_hash`)
    if (rows.length === 0) yield* fail("Conflict", "This enrolment token already exists: draw a new one.")
  }),

  consumeToken: Effect.fn("IrpRegistry.consumeToken")(function* ({ tokenHash, handle, now: at }) {
    const hash = Encoding.encodeHex(tokenHash)
    const now = Math.floor(at)
    const won = yield* read(sql`UPDATE irp_tokens SET used_at = ${now}
      WHERE token_hash = ${hash} AND handle = ${handle} AND used_at IS NULL AND expires_at > ${now}
      RETURNING handle`)
    if (won.length > 0) return handle
    // Lost: say why, from what is stored now.
    const rows = yield* read(
      sql<{
        readonly handle: string
        readonly expires_at: number | string
        readonly used_at: number | string | null
      }>`SELECT handle, expires_at, used_at FROM irp_tokens WHERE token_hash = ${hash}`
    )
    const token = rows[0]
    if (token === undefined) {
      return yield* fail(
        "TokenNotFound",
        "This enrolment token is not known: check that it was copied whole, or ask the operator for a new one."
      )
    }
    if (token.used_at !== null) {
      return yield* fail("TokenUsed", "This enrolment token was already used: ask the operator for a new one.")
    }
    if (Number(token.expires_at) <= now) {
      return yield* fail("TokenExpired", "This enrolment token has expired: ask the operator for a new one.")
    }
    return yield* fail(
      "TokenWrongHandle",
      "This enrolment token was issued for another handle: enrol with the handle it was issued for."
    )
  })
})

/** Deletes used and expired tokens; the number deleted. */
export const purgeTokens = ({ sql, read }: Store, now: number) =>
  read(sql`DELETE FROM irp_tokens WHERE expires_at <= ${now} OR used_at IS NOT NULL`.raw)
