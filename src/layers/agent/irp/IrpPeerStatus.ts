/**
 * PeerStatus over the IRP (PROTOCOL.md §13.6): the agent's status gate and its own staple.
 *
 * * Own staple: a fiber asks the IRP `<Status serial staple="true"/>` for our own certificate, checks
 *   the answer like a peer would, keeps it, and asks again at half its life (after a failure, sooner,
 *   with backoff). A revoked or unknown certificate gets no staple: we then send none (§13.6.2).
 * * Peer check (§13.6.3): a valid staple admits at once, without a round trip. Otherwise a fresh
 *   `Status` by the certificate's *serial* (also asking for a staple, which is then kept for the rest of
 *   its life, so that a peer without one costs one query per staple lifetime). `revoked` / `unknown`
 *   refuse; no answer within `statusTimeout` refuses too (hard fail, §13.6.4): the session carries
 *   nothing and the messages stay queued.
 */
import { Duration, Effect, type Either, Equal, Fiber, Layer, Schedule } from "effect"
import { handleDomain } from "../../../domain/brands.js"
import { certificateIdentity } from "../../../domain/cert/identity.js"
import { checkStaple, type StapleFields } from "../../../domain/cert/staple.js"
import type { VerifiedCertificate } from "../../../domain/cert/verify.js"
import type { SerialHex } from "../../../domain/irp/certificates.js"
import { Signer } from "../../../services/Crypto.js"
import type { CertificateStatusRecord, IrpClientError } from "../../../services/IrpClient.js"
import { type PeerAdmission, PeerStatus, type PeerStatusService } from "../../../services/PeerStatus.js"
import { IrpConnection } from "./IrpConnection.js"

export interface IrpPeerStatusOptions {
  /**
   * Our current chain (DER, leaf first, then the issuing CA): whose status we staple. Read at each
   * refresh, since the agent renews its certificate while it runs (PROTOCOL.md 17.4.8).
   */
  readonly chain: () => ReadonlyArray<Uint8Array>
  /** Longest wait for a fresh Status about a peer before the session is refused (default 5 s). */
  readonly statusTimeout?: Duration.DurationInput | undefined
}

/** Staples of peers fetched by fallback queries, kept for their life: at most this many. */
const MAX_CACHED = 1024
/** A `good` answer without a usable staple (an expired certificate's last days) holds this long. */
const UNSTAPLED_GOOD_MS = 60_000

interface Held {
  readonly bytes: Uint8Array
  readonly fields: StapleFields
  /** The serial it is about. */
  readonly serial: string
}

const issuerOf = (path: ReadonlyArray<Uint8Array>) => (path[1] === undefined ? undefined : certificateIdentity(path[1]))

export const make = (options: IrpPeerStatusOptions) =>
  Effect.gen(function* () {
    const connection = yield* IrpConnection
    const signatures = yield* Signer
    const clock = yield* Effect.clock
    const now = () => clock.unsafeCurrentTimeMillis()
    const timeout = Duration.decode(options.statusTimeout ?? Duration.seconds(5))
    // Our identity, parsed once per chain (the chain changes only when the agent renews).
    let ownChain: ReadonlyArray<Uint8Array> | undefined
    let own: ReturnType<typeof certificateIdentity>
    let ownIssuer: ReturnType<typeof issuerOf>
    const ownNow = () => {
      const chain = options.chain()
      if (chain !== ownChain) {
        ownChain = chain
        own = chain[0] === undefined ? undefined : certificateIdentity(chain[0])
        ownIssuer = issuerOf(chain)
      }
      return own
    }
    const cache = new Map<string, Held>()
    const scope = yield* Effect.scope
    /**
     * Fallback queries in flight, by serial: a check for a serial already being asked about waits for
     * that answer instead of asking again, so that a peer opening many sessions at once with one
     * certificate and no staple costs one query, not one per session (each ends within `timeout`).
     * Forked in the layer's scope: a check whose session closes while waiting does not cancel the
     * answer the others wait for. An entry lives while its query runs (bounded by the sessions admitted).
     */
    const inFlight = new Map<string, Fiber.RuntimeFiber<Either.Either<CertificateStatusRecord, unknown>>>()
    const fallbackQuery = (serial: string, foreign: string | undefined) =>
      Effect.suspend(() => {
        const running = inFlight.get(serial)
        if (running !== undefined && running.unsafePoll() === null) return Fiber.join(running)
        // The query removes its own entry when it ends, whoever still waits for it.
        const forget = Effect.flatMap(Effect.fiberId, (id) =>
          Effect.sync(() => {
            const entry = inFlight.get(serial)
            if (entry !== undefined && Equal.equals(entry.id(), id)) inFlight.delete(serial)
          })
        )
        return Effect.flatMap(
          Effect.forkIn(
            connection
              .use((c) => c.status(serial as SerialHex, { staple: true, domain: foreign }))
              .pipe(Effect.timeout(timeout), Effect.either, Effect.ensuring(forget)),
            scope
          ),
          (fiber) => {
            // Unless it has already ended (then it had no entry to remove).
            if (fiber.unsafePoll() === null) inFlight.set(serial, fiber)
            return Fiber.join(fiber)
          }
        )
      })

    /** §13.6.2 for `bytes` about the certificate (`serial`, `handle`) whose issuer is `issuer`. */
    const validate = (
      bytes: Uint8Array,
      serial: string,
      handle: string,
      issuer: ReturnType<typeof issuerOf>
    ): Held | string => {
      if (issuer === undefined) return "the certificate's issuing CA is not known"
      const key = signatures.importPublicKey(issuer.spki)
      if (key === null || key.algorithm !== "ecdsa-p256-sha256") return "the issuing CA's key is not ECDSA P-256"
      const verdict = checkStaple(bytes, {
        serial,
        handle,
        issuer: issuer.fingerprint,
        verify: (tbs, sig) => key.verify(tbs, sig),
        now: now()
      })
      return verdict._tag === "Valid" ? { bytes, fields: verdict.fields, serial } : verdict.message
    }

    // --- our own staple -------------------------------------------------------------------------
    let current: Held | undefined
    const refreshOwn = Effect.gen(function* () {
      const own = ownNow()
      if (own === undefined || own.handle === undefined) return Duration.minutes(1)
      const answer = yield* connection.use((c) => c.status(own.serial as SerialHex, { staple: true }))
      if (answer.status !== "good" || answer.staple === undefined) {
        current = undefined
        yield* Effect.logWarning(
          `agent: the IRP reports our certificate (serial ${own.serial}) ${answer.status}: peers will refuse it; enrol again`
        )
        return Duration.minutes(1)
      }
      const held = validate(answer.staple, own.serial, own.handle, ownIssuer)
      if (typeof held === "string") {
        yield* Effect.logWarning(`agent: the IRP's staple for our certificate is not valid: ${held}`)
        return Duration.seconds(30)
      }
      current = held
      // Refresh at half its life (§13.6.2), measured on our clock.
      return Duration.millis(Math.max(1000, (held.fields.nextUpdate - now()) / 2))
    })
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.flatMap(
          refreshOwn.pipe(
            Effect.retry(
              Schedule.exponential(Duration.millis(500), 2).pipe(
                Schedule.union(Schedule.spaced(Duration.seconds(15))),
                Schedule.whileInput((_: IrpClientError) => true)
              )
            ),
            Effect.orElseSucceed(() => Duration.seconds(15))
          ),
          Effect.sleep
        )
      )
    )
    // A staple about a certificate we no longer present (renewed since) is not sent: peers then ask.
    const ownStaple = (): Uint8Array | undefined =>
      current !== undefined && now() < current.fields.nextUpdate && current.serial === ownNow()?.serial
        ? current.bytes
        : undefined

    // --- peers ------------------------------------------------------------------------------------
    const remember = (serial: string, held: Held) => {
      if (cache.size >= MAX_CACHED) {
        for (const [k, v] of cache) if (now() >= v.fields.nextUpdate) cache.delete(k)
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string)
      }
      cache.set(serial, held)
    }

    const check = (peer: VerifiedCertificate, staple: Uint8Array | undefined): Effect.Effect<PeerAdmission> =>
      Effect.gen(function* () {
        const handle = peer.handle ?? ""
        const issuer = issuerOf(peer.path)
        if (staple !== undefined) {
          const held = validate(staple, peer.serial, handle, issuer)
          if (typeof held !== "string") return { _tag: "Good", via: "staple", until: held.fields.nextUpdate } as const
          yield* Effect.logWarning(`agent: ${handle}'s stapled status is not usable (${held}); asking the IRP`)
        }
        const cached = cache.get(peer.serial)
        if (cached !== undefined && now() < cached.fields.nextUpdate)
          return { _tag: "Good", via: "staple", until: cached.fields.nextUpdate } as const
        // §22.4: a foreign certificate's status is relayed by our IRP to its domain's (`domain=`); its
        // staple is then checked under the CA of the verified path, i.e. under that domain's root.
        const foreign =
          peer.handle !== undefined && handleDomain(peer.handle) !== handleDomain(connection.handle)
            ? handleDomain(peer.handle)
            : undefined
        const answer = yield* fallbackQuery(peer.serial, foreign)
        if (answer._tag === "Left")
          return {
            _tag: "Refused",
            wireReason: "status_unavailable",
            message: `${handle}'s certificate status could not be checked (the IRP did not answer within ${Duration.format(timeout)}, and no valid stapled status came): nothing is exchanged; queued messages wait for the next session.`
          } as const
        const status = answer.right
        if (status.status === "revoked")
          return {
            _tag: "Refused",
            wireReason: "certificate_revoked",
            message: `${handle} presented certificate ${peer.serial}, which the IRP reports revoked (${status.reason ?? "unspecified"}): refused.`
          } as const
        if (status.status === "unknown")
          return {
            _tag: "Refused",
            wireReason: "certificate_unknown",
            message: `${handle} presented certificate ${peer.serial}, which the IRP never issued: refused.`
          } as const
        let until = now() + UNSTAPLED_GOOD_MS
        if (status.staple !== undefined) {
          const held = validate(status.staple, peer.serial, handle, issuer)
          if (typeof held !== "string") {
            remember(peer.serial, held)
            until = held.fields.nextUpdate
          }
        }
        return { _tag: "Good", via: "status", until } as const
      })

    return PeerStatus.of({ check, ownStaple } satisfies PeerStatusService)
  })

export const layer = (options: IrpPeerStatusOptions): Layer.Layer<PeerStatus, never, IrpConnection | Signer> =>
  Layer.scoped(PeerStatus, make(options))
