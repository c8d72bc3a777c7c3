/**
 * Contacts and keys (PROTOCOL.md §13; issue 4, section 1; issue 10, section 3): `sixchat contacts`
 * (verified or not, key changes), `sixchat contact show HANDLE` (safety number and its QR code,
 * pinned chain, key history, key changes, the last session code), `sixchat contact verify HANDLE`
 * (`./safety.ts`) and `sixchat trust HANDLE` (accept a changed key after comparing the safety number).
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect } from "effect"
import type { Contact } from "../../domain/agent/contacts.js"
import { type DomainKeyChange, domainArgument } from "../../domain/agent/domainRoots.js"
import { handleDomain } from "../../domain/brands.js"
import { usage } from "../failure.js"
import { homeOption } from "../home.js"
import { parseHandle, withAgent } from "./agent.js"
import { dateTime, groupedHex } from "./format.js"
import { note, say } from "./io.js"
import { domainKeyChangeAdvice, domainKeyChangeSummary, keyChangeAdvice, keyChangeSummary } from "./keyChange.js"
import { contactVerify, safetyNumberBlock } from "./safety.js"

const handleArg = Args.text({ name: "HANDLE" }).pipe(Args.withDescription("the contact, e.g. bob@example.org"))

const verifiedWord = (c: Contact): string => (c.fingerprint === null ? "-" : c.verified === true ? "verified" : "no")

/** The newest root change of each domain (PROTOCOL.md §22.3.3), a pending one before any other. */
const newestByDomain = (changes: ReadonlyArray<DomainKeyChange>): ReadonlyMap<string, DomainKeyChange> => {
  const newest = new Map<string, DomainKeyChange>()
  for (const c of changes) {
    const seen = newest.get(c.domain)
    if (seen === undefined || seen.status !== "pending" || c.status === "pending") newest.set(c.domain, c)
  }
  return newest
}

/** A contact's domain CA changed: flagged on the row as its own key change would be. */
const domainFlag = (c: DomainKeyChange | undefined): string =>
  c === undefined
    ? ""
    : c.status === "pending"
      ? `CA OF ${c.domain.toUpperCase()} CHANGED, refused until trusted`
      : c.status === "accepted"
        ? `CA of ${c.domain} changed ${dateTime(c.resolvedAt ?? c.at)}`
        : ""

const contactRow = (c: Contact, domainChange?: DomainKeyChange): string => {
  const key = c.fingerprint === null ? "(no key yet)" : `${c.fingerprint.slice(0, 16)}…`
  const last = c.lastKeyChange
  const flags = [
    domainFlag(domainChange),
    c.unread > 0 ? `${c.unread} unread` : "",
    c.outbox > 0 ? `${c.outbox} waiting` : "",
    c.pendingKeyChange !== null
      ? c.pendingKeyChange.returning
        ? "OLD KEY BACK, refused until trusted"
        : "KEY CHANGED, refused until trusted"
      : last !== null && last.status === "accepted"
        ? `key changed ${dateTime(last.resolvedAt ?? last.at)}`
        : ""
  ].filter((f) => f !== "")
  const lastMessage = c.lastMessageAt === null ? "-" : dateTime(c.lastMessageAt)
  return `${c.handle.padEnd(32)} ${key.padEnd(18)} ${verifiedWord(c).padEnd(9)} ${lastMessage.padEnd(16)}  ${flags.join(", ")}`.trimEnd()
}

export const runContacts = (o: { readonly home: string }) =>
  Effect.gen(function* () {
    const [contacts, domainChanges] = yield* withAgent(o.home, (client) =>
      Effect.all([client.call("contacts", {}), client.call("domainKeyChanges", {})])
    )
    if (contacts.length === 0)
      return yield* note(`no contacts yet: write to someone with \`sixchat send --home ${o.home} HANDLE TEXT\``)
    const byDomain = newestByDomain(domainChanges)
    yield* say(`${"HANDLE".padEnd(32)} ${"KEY".padEnd(18)} ${"VERIFIED".padEnd(9)} ${"LAST MESSAGE".padEnd(16)}  NOTES`)
    for (const c of contacts) yield* say(contactRow(c, byDomain.get(handleDomain(c.handle))))
    // PROTOCOL.md §22.3.3: a domain whose CA changed is named once, with what to do.
    for (const change of byDomain.values())
      if (change.status === "pending" || contacts.some((c) => handleDomain(c.handle) === change.domain))
        yield* note(`${domainKeyChangeSummary(change)}; ${domainKeyChangeAdvice(change, o.home)}`)
    const changed = contacts.filter((c) => c.pendingKeyChange !== null)
    for (const c of changed)
      yield* note(
        `${c.handle}: ${keyChangeSummary(c.pendingKeyChange ?? c.lastKeyChange!)}; see \`sixchat contact show --home ${o.home} ${c.handle}\` before trusting it`
      )
  })

export const contactsCommand = Command.make("contacts", { home: homeOption }, runContacts).pipe(
  Command.withDescription(
    "list the people this agent knows: pinned key, verified or not, last message, unread, waiting, key changes"
  )
)

export const runContactShow = (o: { readonly home: string; readonly peer: string; readonly qr: boolean }) =>
  Effect.gen(function* () {
    const peer = yield* parseHandle(o.peer)
    const c = yield* withAgent(o.home, (client) => client.call("contact", { peer }))
    yield* say(`handle:        ${c.handle}`)
    yield* say(
      c.fingerprint === null
        ? "fingerprint:   none yet (pinned at the first session)"
        : `fingerprint:   ${groupedHex(c.fingerprint)}${c.pinnedAt === null ? "" : `  (pinned ${dateTime(c.pinnedAt)})`}`
    )
    if (c.issuer !== null) yield* say(`issuing CA:    ${c.issuer === "" ? "not known yet" : groupedHex(c.issuer)}`)
    for (const line of safetyNumberBlock(c, o.qr)) yield* say(line)
    yield* say(
      c.sessionCode === null
        ? "session code:  none yet (per session; compare the safety number, not this)"
        : `session code:  ${c.sessionCode}${c.sessionCodeAt === null ? "" : `  (session of ${dateTime(c.sessionCodeAt)}; changes every session)`}`
    )
    yield* say(`last session:  ${c.lastHandshakeAt === null ? "never" : dateTime(c.lastHandshakeAt)}`)
    yield* say(`messages:      ${c.unread} unread, ${c.outbox} waiting to be delivered`)
    const keys = c.keys ?? []
    if (keys.length > 0) yield* say("keys seen:")
    for (const k of keys)
      yield* say(
        `  ${k.pinned ? "*" : " "} ${k.fingerprint.slice(0, 16)}…  first ${dateTime(k.firstSeen)}  last ${dateTime(k.lastSeen)}${k.serial === null ? "" : `  serial ${k.serial}`}${k.replacedAt === null ? "" : `  replaced ${dateTime(k.replacedAt)}`}`
      )
    const change = c.pendingKeyChange ?? c.lastKeyChange
    if (change === null) return yield* say("key change:    none")
    yield* say(`key change:    ${change.status === "pending" ? "PENDING" : change.status} since ${dateTime(change.at)}`)
    yield* say(`  ${keyChangeSummary(change)}`)
    yield* say(`  pinned key:  ${groupedHex(change.previous)}`)
    yield* say(`  new key:     ${groupedHex(change.current)}`)
    if (change.status === "pending" || c.verified !== true) yield* note(keyChangeAdvice(change, o.home))
  })

const contactShow = Command.make(
  "show",
  {
    home: homeOption,
    peer: handleArg,
    qr: Options.boolean("qr").pipe(Options.withDescription("also draw the safety number as a QR code"))
  },
  runContactShow
).pipe(
  Command.withDescription(
    "show a contact: safety number (verified or not), pinned key and issuing CA, key history, key changes, last session code"
  )
)

export const contactCommand = Command.make("contact").pipe(
  Command.withDescription("one contact's keys and safety number; verify it"),
  Command.withSubcommands([contactShow, contactVerify])
)

export const runTrust = (o: { readonly home: string; readonly peer: string }) =>
  Effect.gen(function* () {
    // `sixchat trust @other.net`: accept a domain's changed CA (PROTOCOL.md §22.3.3).
    if (o.peer.trim().startsWith("@")) {
      const domain = domainArgument(o.peer.trim())
      if (domain === undefined) return yield* usage(`"${o.peer}" is not a domain like @other.net: check the spelling`)
      const change = yield* withAgent(o.home, (client) => client.call("trustDomain", { domain }))
      return yield* say(`now trusting the new CA of ${domain}: ${groupedHex(change.current)} (${change.subject})`)
    }
    const peer = yield* parseHandle(o.peer)
    const contact = yield* withAgent(o.home, (client) =>
      Effect.zipRight(client.call("trust", { peer }), client.call("contact", { peer }))
    )
    yield* say(
      `now trusting the new key of ${peer}${contact.fingerprint === null ? "" : `: ${groupedHex(contact.fingerprint)}`}`
    )
  })

export const trustCommand = Command.make("trust", { home: homeOption, peer: handleArg }, runTrust).pipe(
  Command.withDescription(
    "accept HANDLE's changed key (compare the safety number first: `sixchat contact show HANDLE`), or with @DOMAIN a domain's changed CA"
  )
)
