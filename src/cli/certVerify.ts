/**
 * `sixchat cert verify`: checks a certificate chain the way a SixChat peer would (PROTOCOL.md §13).
 *
 *   sixchat cert verify --trust FILE... [--untrusted FILE...] --leaf FILE --at ISO8601
 *                       [--purpose client-auth|server-auth|any] [--max-depth N]
 *
 * Exit 0: accepted (one line on stdout). Exit 1: rejected (one line on stderr: the reason code and
 * a sentence), a certificate over the size limit or a chain over the work budgets included
 * (PROTOCOL.md §13.7). Exit 2: usage or input error (unreadable file, no certificate in it, bad --at,
 * a trust anchor that is not DER X.509).
 * Files are PEM (several certificates each allowed) or one DER certificate. Certificates after the
 * first in the --leaf file are used as untrusted intermediates, like a server's "fullchain.pem".
 */
import { readFileSync } from "node:fs"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Console, Effect, Exit, Option } from "effect"
import { formatName } from "../domain/cert/names.js"
import { parseCertificate } from "../domain/cert/parse.js"
import { CertError } from "../domain/cert/verify.js"
import { pemDecode } from "../domain/pem.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import { CliFailure, ExitCode, rejected, usage } from "./failure.js"

/** RFC 3339 / ISO 8601 date-time with seconds and a zone; fractions allowed (truncated later). */
const AT = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/

/** `--at` as a Date truncated to the second; `undefined` when it is not a valid date-time. */
export const parseAt = (text: string): Date | undefined => {
  const m = AT.exec(text.trim())
  if (m === null) return undefined
  const [mo, d, h, mi, s] = [Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])]
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[8]!.toUpperCase()}`)
  if (!Number.isFinite(ms) || new Date(Date.UTC(Number(m[1]), mo - 1, d)).getUTCDate() !== d) return undefined
  return new Date(ms)
}

/** Every certificate in a PEM file, or the one certificate of a DER file. */
const readCertificates = (path: string, what: string): Effect.Effect<ReadonlyArray<Uint8Array>, CliFailure> =>
  Effect.gen(function* () {
    const bytes = yield* Effect.try({
      try: () => readFileSync(path),
      catch: (e) => usage(`cannot read the ${what} file ${path}: ${(e as Error).message}`)
    })
    const pem = pemDecode(bytes.toString("latin1"), "CERTIFICATE")
    if (pem.length > 0) return pem
    // A lone DER certificate starts with a SEQUENCE tag.
    if (bytes[0] === 0x30 && !bytes.toString("latin1").includes("-----BEGIN")) return [new Uint8Array(bytes)]
    return yield* usage(
      `the ${what} file ${path} holds no certificate (expected PEM "-----BEGIN CERTIFICATE-----" or DER)`
    )
  })

const readAll = (paths: ReadonlyArray<string>, what: string) =>
  Effect.forEach(paths, (p) => readCertificates(p, what)).pipe(Effect.map((all) => all.flat()))

const trust = Options.file("trust").pipe(
  Options.atLeast(1),
  Options.withDescription("PEM/DER file of trust anchors (repeatable; a file may hold several certificates)")
)
const untrusted = Options.file("untrusted").pipe(
  Options.repeated,
  Options.withDescription("PEM/DER file of untrusted intermediate certificates, any order (repeatable)")
)
const leaf = Options.file("leaf").pipe(
  Options.withDescription("PEM/DER file whose first certificate is the one to verify (more are intermediates)")
)
const at = Options.text("at").pipe(
  Options.withDescription("check time, RFC 3339 / ISO 8601 (e.g. 2026-01-31T12:00:00Z); truncated to the second")
)
const purpose = Options.choice("purpose", ["client-auth", "server-auth", "any"]).pipe(
  Options.withDefault("client-auth" as const),
  Options.withDescription("required extended key usage of the leaf (default client-auth)")
)
const maxDepth = Options.integer("max-depth").pipe(
  Options.optional,
  Options.withDescription("at most N intermediate certificates, self-issued ones not counted (default 3)")
)

export const certVerifyCommand = Command.make("verify", { trust, untrusted, leaf, at, purpose, maxDepth }, (args) =>
  Effect.gen(function* () {
    const when = parseAt(args.at)
    if (when === undefined)
      return yield* usage(`--at "${args.at}" is not an ISO 8601 date-time such as 2026-01-31T12:00:00Z`)
    const depth = Option.getOrUndefined(args.maxDepth)
    // Any non-negative integer: the verifier bounds its own work (PROTOCOL.md §13.2, §13.7).
    if (depth !== undefined && depth < 0)
      return yield* usage(`--max-depth must be a non-negative integer, not ${depth}`)
    const anchors = yield* readAll(args.trust, "--trust")
    const leafFile = yield* readCertificates(args.leaf, "--leaf")
    const intermediates = yield* readAll(args.untrusted, "--untrusted")
    // An anchor over a resource limit is a refusal (exit 1); one that is not a certificate, bad input.
    const verifier = yield* CertVerifierLive.make({ anchors }).pipe(
      Effect.mapError((e) =>
        e.reason === "LimitExceeded" ? rejected(`${e.reason}: ${e.message}`) : usage(`--trust: ${e.message}`)
      )
    )
    const verified = yield* verifier
      .verify({ chain: [...leafFile, ...intermediates], purpose: args.purpose, at: when, maxIntermediates: depth })
      .pipe(Effect.mapError((e: CertError) => rejected(`${e.reason}: ${e.message}`)))
    const parsed = parseCertificate(leafFile[0]!)
    const subject = parsed._tag === "Parsed" ? formatName(parsed.certificate.subject) : "?"
    const who = verified.handle ?? verified.dnsNames[0] ?? "-"
    yield* Console.log(`OK "${subject}" ${who} spki-sha256=${verified.fingerprint}`)
  })
).pipe(Command.withDescription("verify a certificate chain against trust anchors (PROTOCOL.md §13)"))

/** Exit code for how the command ended, printing the failure line (as `src/main.ts` does). */
const exitCodeOf = (exit: Exit.Exit<void, unknown>): Effect.Effect<number> => {
  if (Exit.isSuccess(exit)) return Effect.succeed(ExitCode.Ok)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (e instanceof CliFailure) return Effect.as(Console.error(`sixchat: ${e.message}`), e.code)
    // @effect/cli has printed its own usage message.
    if (ValidationError.isValidationError(e)) return Effect.succeed(ExitCode.Usage)
    if (e instanceof CertError) return Effect.as(Console.error(`sixchat: ${e.reason}: ${e.message}`), ExitCode.Rejected)
  }
  return Effect.as(Console.error(`sixchat: internal error: ${Cause.pretty(exit.cause)}`), 70)
}

/**
 * Runs `sixchat cert verify ARGS` in-process (ARGS = what follows `verify`) and resolves to its
 * exit code: 0 accepted, 1 rejected, 2 usage or input error.
 */
export const runCertVerify = (args: ReadonlyArray<string>): Promise<number> =>
  Command.run(certVerifyCommand, { name: "sixchat cert verify", version: "0.1.0" })(["node", "sixchat", ...args]).pipe(
    Effect.exit,
    Effect.flatMap(exitCodeOf),
    Effect.provide(NodeContext.layer),
    Effect.runPromise
  )
