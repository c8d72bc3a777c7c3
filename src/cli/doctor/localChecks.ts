/**
 * The checks of `sixchat doctor` that read only the home (issue 13 §5): file and directory modes,
 * identity.json, the certificate (present, for this handle, how long it still lives) and whether it
 * chains to the trust anchor `ca.pem`.
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { Effect, Either, Schema } from "effect"
import { HomeFile, type IdentityConfig, IdentityConfigJson } from "../../domain/home/identityHome.js"
import { pemDecode } from "../../domain/pem.js"
import * as CertVerifierLive from "../../layers/CertVerifierLive.js"
import { describeCertificate } from "../home.js"
import { type Check, fail, ok, skipped, warn } from "./check.js"

/** A certificate that ends sooner than this is a warning (the agent renews it; PROTOCOL.md 17.4.8). */
export const EXPIRY_WARNING_DAYS = 7
const DAY_MS = 86_400_000

const modeOf = (file: string): number | undefined => {
  try {
    return statSync(file).mode & 0o777
  } catch {
    return undefined
  }
}
const octal = (mode: number) => mode.toString(8).padStart(4, "0")

/** The home directory: fail when others may write into it, warn when they may look into it. */
const homeMode = (home: string): Check => {
  const mode = modeOf(home)
  if (mode === undefined)
    return fail("home", `${home} does not exist: create an identity with \`sixchat id new --home ${home}\``)
  if ((mode & 0o022) !== 0)
    return fail("home", `${home} is mode ${octal(mode)}, writable by others: run \`chmod 700 ${home}\``)
  if ((mode & 0o077) !== 0)
    return warn("home", `${home} is mode ${octal(mode)}, others may list it: run \`chmod 700 ${home}\``)
  return ok("home", `${home} is mode ${octal(mode)}`)
}

/** Secret files must be 0600 (or stricter); the public ones must not be writable by others. */
const fileModes = (home: string): ReadonlyArray<Check> => {
  const checks: Array<Check> = []
  const key = path.join(home, HomeFile.key)
  const keyMode = modeOf(key)
  if (keyMode === undefined)
    checks.push(fail("key-mode", `${key} is missing: create a key with \`sixchat id new --home ${home}\``))
  else if ((keyMode & 0o077) !== 0)
    checks.push(fail("key-mode", `${key} is mode ${octal(keyMode)}, readable by others: run \`chmod 600 ${key}\``))
  else checks.push(ok("key-mode", `${key} is mode ${octal(keyMode)}`))
  const secrets = ["agent.db", "agent.db-wal", "agent.db-shm", "agent.sock"].map((f) => path.join(home, f))
  const publics = [HomeFile.identity, HomeFile.cert, HomeFile.ca].map((f) => path.join(home, f))
  const loose = [
    ...secrets.filter((f) => ((modeOf(f) ?? 0) & 0o077) !== 0).map((f) => `chmod 600 ${f}`),
    ...publics.filter((f) => ((modeOf(f) ?? 0) & 0o022) !== 0).map((f) => `chmod 644 ${f}`)
  ]
  checks.push(
    loose.length === 0
      ? ok(
          "file-modes",
          "the agent's database and socket are 0600; identity, certificate and CA are not writable by others"
        )
      : fail(
          "file-modes",
          `others may read or change files of the home: run ${loose.map((c) => `\`${c}\``).join(", ")}`
        )
  )
  return checks
}

export interface LocalFindings {
  readonly checks: ReadonlyArray<Check>
  readonly config: IdentityConfig | undefined
  readonly chain: ReadonlyArray<Uint8Array> | undefined
  readonly anchors: ReadonlyArray<Uint8Array> | undefined
}

const readIdentity = (home: string): { check: Check; config?: IdentityConfig } => {
  const file = path.join(home, HomeFile.identity)
  if (!existsSync(file))
    return {
      check: fail("identity", `${file} is missing: run \`sixchat id new --home ${home} --handle you@your.domain\``)
    }
  const decoded = Schema.decodeUnknownEither(IdentityConfigJson)(readFileSync(file, "utf8"))
  if (Either.isLeft(decoded))
    return { check: fail("identity", `${file} is damaged: restore it, or make a new identity with \`sixchat id new\``) }
  const config = decoded.right
  return config.irp === undefined
    ? {
        check: fail("identity", `${config.handle} is not enrolled: run \`sixchat id enroll --home ${home} …\``),
        config
      }
    : { check: ok("identity", `${config.handle}, device ${config.deviceId}, IRP ${config.irp}`), config }
}

const readPem = (file: string, label: string): ReadonlyArray<Uint8Array> | undefined => {
  try {
    const blocks = pemDecode(readFileSync(file, "utf8"), label)
    return blocks.length > 0 ? blocks : undefined
  } catch {
    return undefined
  }
}

const certificateCheck = (
  home: string,
  config: IdentityConfig | undefined,
  chain: ReadonlyArray<Uint8Array> | undefined,
  now: number
): Check => {
  const file = path.join(home, HomeFile.cert)
  const enrol = `enrol with \`sixchat id enroll --home ${home} --irp HOST --token TOKEN --trust CA.pem\``
  if (chain === undefined) return fail("certificate", `${file} is missing or holds no certificate: ${enrol}`)
  const leaf = describeCertificate(chain[0]!)
  if (leaf === undefined) return fail("certificate", `${file} does not parse: ${enrol} again`)
  if (config !== undefined && leaf.handle !== config.handle)
    return fail("certificate", `${file} is for ${leaf.handle ?? "no handle"}, not ${config.handle}: ${enrol} again`)
  const until = leaf.notAfter.toISOString()
  const left = leaf.notAfter.getTime() - now
  if (leaf.notBefore.getTime() > now)
    return fail("certificate", `valid only from ${leaf.notBefore.toISOString()}: check this machine's clock`)
  if (left <= 0) return fail("certificate", `expired ${until}: ${enrol} again with a new token`)
  if (left < EXPIRY_WARNING_DAYS * DAY_MS)
    return warn(
      "certificate",
      `expires ${until} (in ${Math.max(1, Math.round(left / 3_600_000))} h): keep the agent running (it renews it) or run \`sixchat id rotate --home ${home}\``
    )
  return ok("certificate", `serial ${leaf.serial}, valid until ${until} (${Math.floor(left / DAY_MS)} days)`)
}

const withinValidity = (leafDer: Uint8Array, now: number): number => {
  const leaf = describeCertificate(leafDer)
  if (leaf === undefined) return now
  return Math.min(Math.max(now, leaf.notBefore.getTime()), leaf.notAfter.getTime() - 1000)
}

const chainCheck = (
  home: string,
  chain: ReadonlyArray<Uint8Array> | undefined,
  anchors: ReadonlyArray<Uint8Array> | undefined,
  now: number
): Effect.Effect<Check> => {
  const file = path.join(home, HomeFile.ca)
  if (anchors === undefined)
    return Effect.succeed(fail("ca", `${file} is missing or holds no certificate: put the domain's ca.pem there`))
  if (chain === undefined) return Effect.succeed(skipped("ca", "there is no certificate to chain"))
  return CertVerifierLive.make({ anchors }).pipe(
    // Verified at a time the leaf is valid, so an expired certificate (its own check) still shows whether it chains.
    Effect.flatMap((v) => v.verify({ chain, purpose: "client-auth", at: new Date(withinValidity(chain[0]!, now)) })),
    Effect.match({
      onFailure: (e) =>
        fail(
          "ca",
          `the certificate does not chain to ${file} (${e.message}): enrol again, or put the domain's ca.pem there`
        ),
      onSuccess: () => ok("ca", `the certificate chains to ${file}`)
    })
  )
}

export const localChecks = (home: string, now: number): Effect.Effect<LocalFindings> =>
  Effect.gen(function* () {
    const homeCheck = homeMode(home)
    if (homeCheck.level === "fail" && modeOf(home) === undefined)
      return { checks: [homeCheck], config: undefined, chain: undefined, anchors: undefined }
    const identity = readIdentity(home)
    const chain = readPem(path.join(home, HomeFile.cert), "CERTIFICATE")
    const anchors = readPem(path.join(home, HomeFile.ca), "CERTIFICATE")
    const checks = [
      homeCheck,
      ...fileModes(home),
      identity.check,
      certificateCheck(home, identity.config, chain, now),
      yield* chainCheck(home, chain, anchors, now)
    ]
    return { checks, config: identity.config, chain, anchors }
  })
