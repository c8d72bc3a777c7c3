/**
 * Contacts and keys (brief section 6; issue 4, section 1): `sixchat contacts`, `sixchat contact show
 * HANDLE` (pinned fingerprint, pending key change, last verification code) and `sixchat trust HANDLE`
 * (accept a changed key after comparing verification codes).
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import { Effect } from "effect"
import type { Contact } from "../../domain/agent/contacts.js"
import { homeOption } from "../home.js"
import { parseHandle, withAgent } from "./agent.js"
import { dateTime, groupedHex } from "./format.js"
import { note, say } from "./io.js"

const handleArg = Args.text({ name: "HANDLE" }).pipe(Args.withDescription("the contact, e.g. bob@example.org"))

const contactRow = (c: Contact): string => {
  const key = c.fingerprint === null ? "(no key yet)" : `${c.fingerprint.slice(0, 16)}…`
  const flags = [
    c.unread > 0 ? `${c.unread} unread` : "",
    c.outbox > 0 ? `${c.outbox} waiting` : "",
    c.pendingKeyChange !== null ? "KEY CHANGED" : ""
  ].filter((f) => f !== "")
  const last = c.lastMessageAt === null ? "-" : dateTime(c.lastMessageAt)
  return `${c.handle.padEnd(32)} ${key.padEnd(18)} ${last.padEnd(16)}  ${flags.join(", ")}`.trimEnd()
}

export const runContacts = (o: { readonly home: string }) =>
  Effect.gen(function* () {
    const contacts = yield* withAgent(o.home, (client) => client.call("contacts", {}))
    if (contacts.length === 0)
      return yield* note(`no contacts yet: write to someone with \`sixchat send --home ${o.home} HANDLE TEXT\``)
    yield* say(`${"HANDLE".padEnd(32)} ${"KEY".padEnd(18)} ${"LAST MESSAGE".padEnd(16)}  NOTES`)
    for (const c of contacts) yield* say(contactRow(c))
    const changed = contacts.filter((c) => c.pendingKeyChange !== null)
    for (const c of changed)
      yield* note(
        `${c.handle} presented a new key: see \`sixchat contact show --home ${o.home} ${c.handle}\` before trusting it`
      )
  })

export const contactsCommand = Command.make("contacts", { home: homeOption }, runContacts).pipe(
  Command.withDescription("list the people this agent knows: pinned key, last message, unread, waiting, key changes")
)

export const runContactShow = (o: { readonly home: string; readonly peer: string }) =>
  Effect.gen(function* () {
    const peer = yield* parseHandle(o.peer)
    const c = yield* withAgent(o.home, (client) => client.call("contact", { peer }))
    yield* say(`handle:        ${c.handle}`)
    yield* say(
      c.fingerprint === null
        ? "fingerprint:   none yet (pinned at the first session)"
        : `fingerprint:   ${groupedHex(c.fingerprint)}${c.pinnedAt === null ? "" : `  (pinned ${dateTime(c.pinnedAt)})`}`
    )
    yield* say(
      c.verificationCode === null
        ? "verification:  none yet (shown after the first session)"
        : `verification:  ${c.verificationCode}${c.verificationCodeAt === null ? "" : `  (session of ${dateTime(c.verificationCodeAt)})`}`
    )
    yield* say(`last session:  ${c.lastHandshakeAt === null ? "never" : dateTime(c.lastHandshakeAt)}`)
    yield* say(`messages:      ${c.unread} unread, ${c.outbox} waiting to be delivered`)
    const change = c.pendingKeyChange
    if (change === null) return yield* say("key change:    none")
    yield* say(`key change:    PENDING since ${dateTime(change.at)}`)
    yield* say(`  pinned key:  ${groupedHex(change.previous)}`)
    yield* say(`  new key:     ${groupedHex(change.current)}`)
    yield* note(
      `compare the verification code with ${c.handle} in person or by phone; if it matches, run \`sixchat trust --home ${o.home} ${c.handle}\``
    )
  })

const contactShow = Command.make("show", { home: homeOption, peer: handleArg }, runContactShow).pipe(
  Command.withDescription("show a contact: pinned key fingerprint, pending key change, last verification code")
)

export const contactCommand = Command.make("contact").pipe(
  Command.withDescription("one contact's keys and verification code"),
  Command.withSubcommands([contactShow])
)

export const runTrust = (o: { readonly home: string; readonly peer: string }) =>
  Effect.gen(function* () {
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
    "accept HANDLE's changed key (compare the verification code first: `sixchat contact show HANDLE`)"
  )
)
