/**
 * The safety number as people see it (PROTOCOL.md section 10.1; issue 10, section 3): 12 groups of
 * 5 digits, 4 groups a line like Signal shows them, and a QR code of `SIXCHAT-SN1:<60 digits>` drawn
 * with Unicode half blocks (`uqr`), so that one phone can scan the other's screen. Plus
 * `sixchat contact verify HANDLE`: show the number, ask, then mark the contact verified.
 */
import { createInterface } from "node:readline"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect } from "effect"
import { renderUnicodeCompact } from "uqr"
import type { Contact } from "../../domain/agent/contacts.js"
import { groupSafetyNumber, safetyNumberQrText } from "../../domain/agent/safetyNumber.js"
import { CliFailure, ExitCode } from "../failure.js"
import { homeOption } from "../home.js"
import { parseHandle, withAgent } from "./agent.js"
import { dateTime } from "./format.js"
import { note, PeopleIo, say } from "./io.js"

/** `12345 67890 12345 67890` on three lines of four groups. */
export const safetyNumberLines = (digits: string): ReadonlyArray<string> => {
  const groups = groupSafetyNumber(digits).split(" ")
  return [0, 4, 8].map((i) => groups.slice(i, i + 4).join(" "))
}

/** The QR code of the number, as lines of Unicode half blocks (two module rows per line). */
export const safetyNumberQr = (digits: string): string =>
  renderUnicodeCompact(safetyNumberQrText(digits), { ecc: "M", border: 2 })

/** What `contact show` and `contact verify` print about the safety number. */
export const safetyNumberBlock = (c: Contact, qr: boolean): ReadonlyArray<string> => {
  if (c.safetyNumber === null || c.safetyNumber === undefined)
    return ["safety number: none yet (computed at the first session with them)"]
  const state =
    c.verified === true
      ? `VERIFIED${c.verifiedAt === null ? "" : ` ${dateTime(c.verifiedAt)}`}`
      : c.verifiedAt !== null
        ? "NOT VERIFIED (a key changed since you verified)"
        : "not verified"
  return [
    `safety number: ${state}`,
    ...safetyNumberLines(c.safetyNumber).map((l) => `  ${l}`),
    ...(qr ? safetyNumberQr(c.safetyNumber).split("\n") : [])
  ]
}

/** One line from stdin (bounded to 1 KiB), or `undefined` at its end. */
const readAnswer = Effect.flatMap(PeopleIo, (io) =>
  Effect.async<string | undefined>((resume) => {
    const rl = createInterface({ input: io.stdin, terminal: false })
    let done = false
    const finish = (answer: string | undefined) => {
      if (done) return
      done = true
      rl.close()
      resume(Effect.succeed(answer?.slice(0, 1024)))
    }
    rl.once("line", (line) => finish(line))
    rl.once("close", () => finish(undefined))
    return Effect.sync(() => finish(undefined))
  })
)

export const runContactVerify = (o: { readonly home: string; readonly peer: string; readonly yes: boolean }) =>
  Effect.gen(function* () {
    const peer = yield* parseHandle(o.peer)
    const contact = yield* withAgent(o.home, (client) => client.call("contact", { peer }))
    const digits = contact.safetyNumber
    if (digits === null || digits === undefined)
      return yield* new CliFailure({
        code: ExitCode.State,
        message: `there is no safety number for ${peer} yet: it is computed at the first session with them`
      })
    for (const line of safetyNumberBlock(contact, !o.yes)) yield* say(line)
    if (!o.yes) {
      yield* note(
        `compare these 60 digits with ${peer} (read them aloud, or scan the code). Do they match exactly? Type yes to mark ${peer} verified:`
      )
      const answer = yield* readAnswer
      if (answer?.trim().toLowerCase() !== "yes")
        return yield* new CliFailure({ code: ExitCode.Rejected, message: `not marked: ${peer} stays unverified` })
    }
    const verified = yield* withAgent(o.home, (client) => client.call("verify", { peer, safetyNumber: digits }))
    yield* say(
      `${peer} is verified${verified.verifiedAt === null ? "" : ` (${dateTime(verified.verifiedAt)})`}; the mark drops if either key changes`
    )
  })

export const contactVerify = Command.make(
  "verify",
  {
    home: homeOption,
    peer: Args.text({ name: "HANDLE" }).pipe(Args.withDescription("the contact, e.g. bob@example.org")),
    yes: Options.boolean("yes").pipe(
      Options.withDescription("do not ask: you already compared the safety number (for scripts)")
    )
  },
  runContactVerify
).pipe(
  Command.withDescription(
    "show the safety number you share with HANDLE (digits and QR code), and after you confirm they match, mark HANDLE verified"
  )
)
