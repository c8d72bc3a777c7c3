/**
 * How a key change reads wherever a person looks (issue 10, section 3): the agent's log, `chat`,
 * `history` (a system line, and an object in `--json`), `contacts` and `contact show`. One wording
 * for all of them, so that "the key changed" is never said one way here and left out there. Pure.
 */

import { Schema } from "effect"
import type { KeyChange } from "../../domain/agent/contacts.js"
import { type DomainKeyChange, DomainName } from "../../domain/agent/domainRoots.js"
import type { StoredMessage } from "../../domain/agent/messages.js"
import { type Handle, handleDomain } from "../../domain/brands.js"
import { dateTime, iso } from "./format.js"

const short = (fingerprint: string) => `${fingerprint.slice(0, 16)}…`

/** What happened, in one sentence without a trailing instruction. */
export const keyChangeSummary = (c: KeyChange): string => {
  const what =
    c.previous === c.current
      ? `${c.handle}'s key ${short(c.current)} came certified by another CA`
      : c.returning
        ? `${c.handle} presented a key they had used before and replaced (${short(c.previous)} -> ${short(c.current)})`
        : `${c.handle}'s key changed (${short(c.previous)} -> ${short(c.current)})`
  switch (c.status) {
    case "pending":
      return `${what}; refused until you trust it`
    case "accepted":
      return `${what}; accepted${c.resolvedAt === null ? "" : ` ${dateTime(c.resolvedAt)}`}: the safety number changed`
    case "superseded":
      return `${what}; never accepted (another key was trusted instead)`
  }
}

/** What to do about it. */
export const keyChangeAdvice = (c: KeyChange, home?: string): string => {
  const h = home === undefined ? "" : ` --home ${home}`
  return c.status === "pending"
    ? `compare the safety number with ${c.handle} (sixchat contact show${h} ${c.handle}); only if it matches, run \`sixchat trust${h} ${c.handle}\``
    : `compare the new safety number with ${c.handle} (sixchat contact show${h} ${c.handle}), then \`sixchat contact verify${h} ${c.handle}\``
}

/** The agent log's line (stderr). */
export const keyChangeLogLine = (c: KeyChange): string => `warning: ${keyChangeSummary(c)}: ${keyChangeAdvice(c)}`

/** `history`'s system line, placed by the time the change was first seen. */
export const keyChangeHistoryLine = (c: KeyChange): string => `${dateTime(c.at)}  *** ${keyChangeSummary(c)}`

/** `history --json`'s entry for a key change (messages have no `kind`; this has `kind: "key_change"`). */
export const keyChangeJson = (c: KeyChange) => ({
  kind: "key_change" as const,
  peer: c.handle,
  at: iso(c.at),
  previous: c.previous,
  current: c.current,
  previousIssuer: c.previousIssuer,
  currentIssuer: c.currentIssuer,
  returning: c.returning,
  status: c.status,
  resolvedAt: iso(c.resolvedAt),
  text: keyChangeSummary(c)
})

// --- a domain's CA changed (PROTOCOL.md §22.3.3): worded like a contact's key change ---

/** What happened to the domain's CA, in one sentence without a trailing instruction. */
export const domainKeyChangeSummary = (c: DomainKeyChange): string => {
  const what = `the CA of ${c.domain} changed (${short(c.previous)} -> ${short(c.current)}, ${c.subject})`
  switch (c.status) {
    case "pending":
      return `${what}; everyone of ${c.domain} is refused until you trust it`
    case "accepted":
      return `${what}; accepted${c.resolvedAt === null ? "" : ` ${dateTime(c.resolvedAt)}`}: the keys of people there may change`
    case "superseded":
      return `${what}; never accepted (another CA was trusted instead)`
  }
}

/** What to do about it. */
export const domainKeyChangeAdvice = (c: DomainKeyChange, home?: string): string => {
  const h = home === undefined ? "" : ` --home ${home}`
  return c.status === "pending"
    ? `ask someone of ${c.domain} whether their CA really changed (sixchat domain show${h} ${c.domain}); only then run \`sixchat trust${h} @${c.domain}\``
    : `compare safety numbers again with your contacts of ${c.domain} (sixchat contact show${h} HANDLE)`
}

/**
 * `domainKeyChanges`' params for a conversation with `peer` (its domain), or every domain's without one. A
 * domain the method cannot take (one label) asks for a domain no change can be recorded for.
 */
export const domainKeyChangeParams = (peer: Handle | undefined): { readonly domain?: DomainName } => {
  if (peer === undefined) return {}
  const domain = handleDomain(peer)
  return Schema.is(DomainName)(domain) ? { domain } : { domain: "invalid.invalid" as DomainName }
}

/** The agent log's line (stderr). */
export const domainKeyChangeLogLine = (c: DomainKeyChange): string =>
  `warning: ${domainKeyChangeSummary(c)}: ${domainKeyChangeAdvice(c)}`

/** `history`'s system line. */
export const domainKeyChangeHistoryLine = (c: DomainKeyChange): string =>
  `${dateTime(c.at)}  *** ${domainKeyChangeSummary(c)}`

/** `history --json`'s entry (`kind: "domain_key_change"`). */
export const domainKeyChangeJson = (c: DomainKeyChange) => ({
  kind: "domain_key_change" as const,
  domain: c.domain,
  at: iso(c.at),
  previous: c.previous,
  current: c.current,
  subject: c.subject,
  status: c.status,
  resolvedAt: iso(c.resolvedAt),
  text: domainKeyChangeSummary(c)
})

export type TimelineEntry =
  | { readonly kind: "message"; readonly message: StoredMessage }
  | { readonly kind: "keyChange"; readonly change: KeyChange }
  | { readonly kind: "domainKeyChange"; readonly change: DomainKeyChange }

/**
 * Messages (oldest first) with the key changes that belong among them, by time: those from the
 * oldest message shown on (all of them when there is no message), and any still pending however old.
 */
export const timeline = (
  messages: ReadonlyArray<StoredMessage>,
  changes: ReadonlyArray<KeyChange>,
  domainChanges: ReadonlyArray<DomainKeyChange> = []
): ReadonlyArray<TimelineEntry> => {
  const from = messages[0]?.at ?? Number.NEGATIVE_INFINITY
  const shown = changes.filter((c) => c.at >= from || c.status === "pending")
  const shownDomains = domainChanges.filter((c) => c.at >= from || c.status === "pending")
  const entries: Array<TimelineEntry> = [
    ...messages.map((message) => ({ kind: "message" as const, message })),
    ...shown.map((change) => ({ kind: "keyChange" as const, change })),
    ...shownDomains.map((change) => ({ kind: "domainKeyChange" as const, change }))
  ]
  const at = (e: TimelineEntry) => (e.kind === "message" ? e.message.at : e.change.at)
  // A stable sort: messages keep their order, a change goes before messages of the same millisecond.
  return entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => at(a.e) - at(b.e) || (a.e.kind === b.e.kind ? a.i - b.i : a.e.kind !== "message" ? -1 : 1))
    .map(({ e }) => e)
}
