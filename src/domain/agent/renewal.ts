/**
 * When a User Agent renews its own certificate (issue 10 §2; PROTOCOL.md 17.4.8). Pure.
 *
 * Our CA backdates `notBefore` by `BACKDATE_SECONDS` (clock skew, 13.1), so the lifetime is counted
 * from `notBefore` + that backdate (capped at `notAfter`): the time of issue. Renewal is due at
 * `RENEW_AT` (2/3) of the lifetime, as ACME clients such as certbot do (renew with a third left);
 * a failed attempt is retried with a doubling delay, never later than the expiry allows.
 */
import { BACKDATE_SECONDS } from "../pki/profile.js"

const RENEW_AT = 2 / 3
/** First retry after a failed renewal (ms); doubles per failure up to `RETRY_MAX_MS`. */
export const RETRY_BASE_MS = 2_000
export const RETRY_MAX_MS = 10 * 60_000

/** Epoch ms at which a certificate valid from `notBefore` to `notAfter` (epoch ms) should be renewed. */
export const renewalDue = (notBefore: number, notAfter: number, at: number = RENEW_AT): number => {
  const issued = Math.min(notBefore + BACKDATE_SECONDS * 1000, notAfter)
  return Math.floor(issued + (notAfter - issued) * at)
}

/**
 * Delay (ms) before retry number `failures` (1 for the first) of a renewal, for a certificate that
 * ends at `notAfter`: doubling from `RETRY_BASE_MS`, at most `RETRY_MAX_MS`, and at most a tenth of
 * the time left (at least one base delay), so that several attempts fit before the expiry.
 */
export const retryDelay = (failures: number, now: number, notAfter: number): number => {
  const doubling = RETRY_BASE_MS * 2 ** Math.min(20, Math.max(0, failures - 1))
  const left = Math.max(RETRY_BASE_MS, Math.floor((notAfter - now) / 10))
  return Math.min(doubling, RETRY_MAX_MS, left)
}
