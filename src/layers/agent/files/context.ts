/**
 * What the sender and receiver halves of the file-transfer plugin share: the store, the live links,
 * per-transfer locks and small helpers for terminal states and best-effort sends.
 */
import * as path from "node:path"
import { Clock, Effect } from "effect"
import { isVerified } from "../../../domain/agent/contacts.js"
import type { AgentStoreError } from "../../../domain/agent/errors.js"
import {
  isTerminalTransfer,
  type Sha256Hex,
  type Transfer,
  type TransferRef,
  type TransferState
} from "../../../domain/agent/transfers.js"
import type { Fingerprint, Handle, Id } from "../../../domain/brands.js"
import type { AppMessage } from "../../../domain/e2e/messages.js"
import type { AgentStoreService } from "../../../services/AgentStore.js"
import type { PeerLink } from "../core/plugin.js"
import { type AcceptPolicy, FileTransferError, type TransferCaps } from "./policy.js"

export interface FilesContext {
  readonly store: AgentStoreService
  /** The live session per peer, as the plugin last saw it come up. */
  readonly links: Map<Handle, PeerLink>
  readonly downloadsDir: string
  readonly policy: AcceptPolicy
  /** Our own key's fingerprint, to tell verified contacts; `undefined`: nobody counts as verified. */
  readonly ownFingerprint: Fingerprint | undefined
  /** Caps on unfinished and open incoming transfers (docs/PROTOCOL.md 5.4.7). */
  readonly caps: TransferCaps
  /** File bytes per data record this agent offers. */
  readonly chunk: number
  /** Runs `effect` holding the lock of one transfer (`refKey`). */
  readonly locked: (key: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const refKey = (ref: TransferRef): string => `${ref.direction}\u0000${ref.peer}\u0000${ref.id}`

export const now = Clock.currentTimeMillis

/** Where an incoming file is written until it is verified: `downloads/.partial/<peer>/<id>`. */
export const partialPath = (downloadsDir: string, peer: Handle, id: Id): string =>
  // A handle is `[a-z0-9]…@…` and an id is base32 or hex with hyphens: both are single safe components.
  path.join(downloadsDir, ".partial", peer, id)

export const storeError = (e: AgentStoreError): FileTransferError =>
  new FileTransferError({
    reason: e.reason === "NotFound" ? "NotFound" : "Storage",
    message: e.message,
    cause: e
  })

/** Sends on a link, logging instead of failing: a broken session is handled by `onSessionDown`. */
export const sendQuietly = (link: PeerLink, message: AppMessage): Effect.Effect<void> =>
  link
    .send(message)
    .pipe(
      Effect.catchAll((e) => Effect.logDebug(`files: could not send ${message._tag} to ${link.peer}: ${e.message}`))
    )

/** `<FileCancel>` reasons that mean the user (or their policy) stopped it; anything else is a failure. */
const CANCEL_REASONS = new Set(["user_cancelled", "declined", "cancelled"])

/** The terminal state a `<FileCancel reason>` from the peer leaves a transfer in. */
export const stateForPeerCancel = (reason: string | undefined): TransferState =>
  reason === undefined || CANCEL_REASONS.has(reason) ? "cancelled" : "failed"

/**
 * Moves a transfer to a terminal state, unless it already is in one (then the stored transfer comes
 * back unchanged: a late cancel of a finished transfer is not an error).
 */
export const finish = (
  store: AgentStoreService,
  ref: TransferRef,
  state: "done" | "cancelled" | "failed",
  detail?: string,
  finalPath?: string,
  sha256?: Sha256Hex
): Effect.Effect<Transfer | undefined, FileTransferError> =>
  Effect.gen(function* () {
    const current = yield* store.transfer(ref)
    if (current === undefined || isTerminalTransfer(current.state)) return current
    return yield* store.fileState({
      ref,
      state,
      now: yield* now,
      ...(detail === undefined ? {} : { detail }),
      ...(finalPath === undefined ? {} : { finalPath }),
      ...(sha256 === undefined ? {} : { sha256 })
    })
  }).pipe(
    Effect.catchTag("AgentStoreError", (e) =>
      e.reason === "InvalidTransition"
        ? store.transfer(ref).pipe(Effect.mapError(storeError))
        : Effect.fail(storeError(e))
    )
  )

/** Logs a failed handler instead of letting it reach the session loop. */
export const logFailure =
  (what: string) =>
  <A>(effect: Effect.Effect<A, FileTransferError>): Effect.Effect<A | undefined> =>
    effect.pipe(
      Effect.catchAll((e) => Effect.as(Effect.logWarning(`files: ${what}: ${e.message}`), undefined)),
      Effect.catchAllDefect((d) => Effect.as(Effect.logError(`files: ${what} died`, d), undefined))
    )

/** The peer is a contact whose safety number the user compared (`contact verify`, PROTOCOL.md 10.1). */
export const verifiedContact = (ctx: FilesContext, peer: Handle): Effect.Effect<boolean, FileTransferError> => {
  const own = ctx.ownFingerprint
  return own === undefined
    ? Effect.succeed(false)
    : ctx.store.contact(peer).pipe(
        Effect.map((c) => c !== undefined && isVerified(c, own)),
        Effect.mapError(storeError)
      )
}
