/**
 * What the agent adds to a stored contact (issue 10, section 3): the pair's safety number (PROTOCOL.md
 * section 10.1, from our key and the contact's pinned key) and whether `contact verify` was done for
 * exactly these keys. The store does not know our own key; the agent does. Each side's half costs
 * 5200 SHA-512s (native ones here, a few milliseconds), so halves are cached per (handle, key): our
 * own once, each contact's once per key; and `contacts` lists `verified` without computing numbers.
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { type Contact, isVerified } from "../../domain/agent/contacts.js"
import type { AgentStoreError } from "../../domain/agent/errors.js"
import { combineHalves, safetyHalf } from "../../domain/agent/safetyNumber.js"
import type { Handle } from "../../domain/brands.js"
import { parseCertificate } from "../../domain/cert/parse.js"
import type { LocalIdentity } from "../../domain/handshake/parameters.js"
import { base64Decode } from "../../domain/xml/values.js"
import { AgentError } from "../../services/Agent.js"
import type { AgentStoreService } from "../../services/AgentStore.js"

/** More contacts than this and the cache starts over (bounded memory; a miss only costs time). */
const MAX_CACHED_HALVES = 4096

/** Node's native SHA-512 (the domain's default is the pure-JavaScript one, some 10 times slower). */
const nativeSha512 = (data: Uint8Array): Uint8Array => createHash("sha512").update(data).digest()

export interface ContactView {
  /** The contact with `safetyNumber` and `verified` filled in. */
  readonly decorate: (contact: Contact) => Contact
  /** The contact with `verified` only (for lists: no safety number computed). */
  readonly summary: (contact: Contact) => Contact
  /**
   * `sixchat contact verify`: marks the contact verified if `safetyNumber` (digits; spaces ignored)
   * is the current one. A number shown before a key change is refused, so the mark always belongs
   * to the keys the person compared.
   */
  readonly verify: (
    contact: Contact,
    safetyNumber: string,
    now: number
  ) => Effect.Effect<void, AgentError | AgentStoreError>
}

export const makeContactView = (self: Handle, identity: LocalIdentity, store: AgentStoreService): ContactView => {
  const leaf = identity.chain[0]
  const parsed = leaf === undefined ? undefined : parseCertificate(leaf)
  const ownSpki = parsed?._tag === "Parsed" ? parsed.certificate.spki : undefined
  let ownHalf: string | undefined
  const halves = new Map<string, string>()

  const halfOf = (handle: Handle, spkiBase64: string): string | undefined => {
    const key = `${handle}\n${spkiBase64}`
    const cached = halves.get(key)
    if (cached !== undefined) return cached
    const spki = base64Decode(spkiBase64)
    if (spki === undefined) return undefined
    if (halves.size >= MAX_CACHED_HALVES) halves.clear()
    const half = safetyHalf({ spki, handle }, nativeSha512)
    halves.set(key, half)
    return half
  }

  const numberOf = (c: Contact): string | null => {
    if (ownSpki === undefined || c.spki === null || c.fingerprint === null) return null
    ownHalf ??= safetyHalf({ spki: ownSpki, handle: self }, nativeSha512)
    const theirs = halfOf(c.handle, c.spki)
    return theirs === undefined ? null : combineHalves(ownHalf, theirs)
  }

  const decorate = (c: Contact): Contact => ({
    ...c,
    safetyNumber: numberOf(c),
    verified: isVerified(c, identity.fingerprint)
  })

  return {
    decorate,
    summary: (c) => ({ ...c, verified: isVerified(c, identity.fingerprint) }),
    verify: (contact, safetyNumber, now) =>
      Effect.gen(function* () {
        const current = numberOf(contact)
        if (current === null || contact.fingerprint === null)
          return yield* new AgentError({
            reason: "NotFound",
            message: `There is no safety number for ${contact.handle} yet: it is computed at the first session with them (after an upgrade, at the next one).`
          })
        if (safetyNumber.replace(/\s+/g, "") !== current)
          return yield* new AgentError({
            reason: "BadRequest",
            message: `That is not the current safety number for ${contact.handle}: their key or yours changed; show it again (sixchat contact show ${contact.handle}) and compare the new one.`
          })
        yield* store.verifyContact({
          handle: contact.handle,
          fingerprint: contact.fingerprint,
          own: identity.fingerprint,
          now
        })
      })
  }
}
