/**
 * Operator commands that work on a domain directory directly: `irp init`, `irp token`, `irp revoke`.
 * (`irp serve` lives in `irpServe.ts`.)
 */
import { createHash } from "node:crypto"
import * as path from "node:path"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Clock, Effect, Layer, Option, Schema } from "effect"
import { Handle, handleDomain } from "../domain/brands.js"
import { RevocationReason, SerialHex } from "../domain/irp/certificates.js"
import { ENROLLMENT_TOKEN_BYTES, formatEnrollmentToken } from "../domain/pki/token.js"
import { initDomain, type LoadedDomain, loadDomain, setPublicChain } from "../layers/ca/DomainDirectory.js"
import { readPublicIdentity } from "../layers/ca/publicChain.js"
import * as SqlRegistry from "../layers/irp/registry/SqlRegistry.js"
import * as Database from "../layers/sql/Database.js"
import * as PgLive from "../layers/sql/PgLive.js"
import { Entropy } from "../services/Entropy.js"
import { IrpRegistry } from "../services/IrpRegistry.js"
import { stderrLine, stdoutLine } from "./common.js"
import { CliFailure, ExitCode, usage } from "./failure.js"

export const dirOption = Options.directory("dir").pipe(
  Options.withDescription("the domain directory (from `irp init`)")
)

/** Parses `90s`, `30m`, `24h`, `7d` (or plain seconds) into seconds. */
export const parseTtl = (text: string): number | undefined => {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim())
  if (m === null) return undefined
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as "" | "s" | "m" | "h" | "d"]
  return Number(m[1]) * unit
}

export const loadDomainOrFail = (dir: string) =>
  loadDomain(dir).pipe(
    Effect.mapError(
      (e) =>
        new CliFailure({
          code: ExitCode.State,
          // A public chain renewed into something unusable names its files already.
          message: e.message.endsWith('(irp.json "publicChain")')
            ? e.message
            : `${e.message} (is ${dir} a directory made by \`sixchat irp init\`?)`
        })
    )
  )

/**
 * A PostgreSQL URL's `schema=NAME` parameter (ours, not libpq's) becomes `options=-c search_path=NAME`, so
 * every pooled connection and the LISTEN one use that schema (which must exist). `undefined` when unusable.
 */
export const withSchemaParameter = (url: string): string | undefined => {
  if (!URL.canParse(url)) return undefined
  const parsed = new URL(url)
  const schema = parsed.searchParams.get("schema")
  if (schema === null) return url
  parsed.searchParams.delete("schema")
  return PgLive.withSearchPath(parsed.toString(), schema)
}

const DB_SYNTAX = "sqlite:PATH or postgres://USER@HOST/DB[?schema=NAME]"

/** A storage URL checked (a relative SQLite path is inside DIR), or the reason it is unusable. */
export const parseStorage = (dir: string, text: string): Database.DatabaseSpec | string => {
  const spec = Database.parseDatabaseSpec(text)
  if (spec === undefined) return `"${text}" is not a database: use ${DB_SYNTAX}`
  if (spec._tag === "Sqlite") return { _tag: "Sqlite", path: path.resolve(dir, spec.path) }
  const url = withSchemaParameter(spec.url)
  return url === undefined
    ? "the PostgreSQL URL is malformed, or its schema= is not a lower-case identifier"
    : { _tag: "Postgres", url }
}

/**
 * The storage a domain uses: `--db` if given, else irp.json's `db` (which `irp init --db` wrote). A bad
 * `--db` is a usage error (exit 2); a bad irp.json is local state to fix (exit 4).
 */
export const databaseFor = (
  dir: string,
  domain: LoadedDomain,
  override: Option.Option<string>
): Effect.Effect<Database.DatabaseSpec, CliFailure> => {
  const spec = parseStorage(
    dir,
    Option.getOrElse(override, () => domain.config.db)
  )
  if (typeof spec !== "string") return Effect.succeed(spec)
  return Option.isSome(override)
    ? Effect.fail(usage(`--db: ${spec}`))
    : Effect.fail(
        new CliFailure({
          code: ExitCode.State,
          message: `${path.join(dir, "irp.json")} names a storage that cannot be used (${spec}): fix its "db" or give --db`
        })
      )
}

/** `--db` of the commands that open the domain's storage. */
export const dbOption = Options.text("db").pipe(
  Options.optional,
  Options.withDescription(`${DB_SYNTAX}; overrides irp.json's db (set by irp init --db)`)
)

/** The storage for a log line: the SQLite path, or the PostgreSQL URL without its password. */
export const shownDatabase = (spec: Database.DatabaseSpec): string => {
  if (spec._tag === "Sqlite") return `sqlite:${spec.path}`
  const url = new URL(spec.url)
  if (url.password !== "") url.password = "***"
  return url.toString()
}

export const registryLayer = (spec: Database.DatabaseSpec) =>
  SqlRegistry.layer.pipe(
    Layer.provide(Database.layer(spec)),
    Layer.mapError(
      (e) => new CliFailure({ code: ExitCode.State, message: `cannot open the registry database: ${e.message}` })
    )
  )

const storageFailure = (e: { message: string }) =>
  new CliFailure({ code: ExitCode.State, message: `the registry refused: ${e.message}` })

const serverCertOption = Options.file("server-cert").pipe(
  Options.optional,
  Options.withDescription(
    "the public chain (PEM, leaf first) from a public CA for irp.<domain>, EKU serverAuth: for federation (PROTOCOL.md 22.2.1)"
  )
)
const serverKeyOption = Options.file("server-key").pipe(
  Options.optional,
  Options.withDescription("the private key of --server-cert (PEM PKCS#8, ECDSA P-256 or Ed25519)")
)

const init = Command.make(
  "init",
  {
    dir: Options.text("dir").pipe(Options.withDescription("directory to create (must not exist)")),
    domain: Options.text("domain").pipe(Options.withDescription("the domain, e.g. example.org")),
    db: Options.text("db").pipe(
      Options.optional,
      Options.withDescription(
        `storage recorded in irp.json for every operator command: ${DB_SYNTAX} (default sqlite:irp.sqlite in DIR)`
      )
    ),
    serverCert: serverCertOption,
    serverKey: serverKeyOption
  },
  (o) =>
    Effect.gen(function* () {
      const db = Option.getOrUndefined(o.db)
      // Checked before anything is written: a domain whose storage cannot be opened is no use.
      const checked = db === undefined ? undefined : parseStorage(o.dir, db)
      if (typeof checked === "string") return yield* usage(`--db: ${checked}`)
      if (Option.isSome(o.serverCert) !== Option.isSome(o.serverKey))
        return yield* usage("give --server-cert and --server-key together")
      // PROTOCOL.md §22.2.1: the public chain, checked before anything is written.
      const publicIdentity =
        Option.isSome(o.serverCert) && Option.isSome(o.serverKey)
          ? yield* readPublicIdentity(o.domain, o.serverCert.value, o.serverKey.value).pipe(
              Effect.mapError((e) => usage(e.message.replace(/\.$/, "")))
            )
          : undefined
      const entropy = yield* Entropy
      const now = new Date(yield* Clock.currentTimeMillis)
      const done = yield* initDomain({
        dir: o.dir,
        domain: o.domain,
        now,
        entropy: entropy.bytes,
        db,
        publicIdentity
      }).pipe(
        Effect.mapError(
          (e) =>
            new CliFailure({
              code:
                e.reason === "Exists" ? ExitCode.State : e.reason === "BadParameter" ? ExitCode.Usage : ExitCode.State,
              message: e.message
            })
        )
      )
      yield* stdoutLine(`created domain ${done.config.domain} in ${done.dir}`)
      yield* stdoutLine(`  trust anchor for users: ${done.files.ca}`)
      yield* stdoutLine(`  server name: ${done.config.serverName} (DNS must point it at this machine)`)
      yield* stdoutLine(
        `  storage: ${checked === undefined ? `sqlite:${path.join(done.dir, "irp.sqlite")}` : shownDatabase(checked)} (irp.json "db")`
      )
      if (publicIdentity !== undefined)
        yield* stdoutLine(`  public chain for other domains' IRPs: ${done.files.publicChain} (irp.json "publicChain")`)
      yield* stdoutLine(`  move ${done.files.rootKey} offline: only a new issuing CA needs it`)
      yield* stdoutLine(
        `next: sixchat irp serve --dir ${o.dir}   and   sixchat irp token --dir ${o.dir} --handle USER@${done.config.domain}`
      )
    })
).pipe(Command.withDescription("create a domain: root CA, issuing CA, IRP server certificate and config"))

/**
 * `irp public-cert`: the public chain of an existing domain (PROTOCOL.md §22.2.1), checked and copied
 * into DIR (replacing an earlier one, as after an ACME renewal); `irp serve` uses it from its next start.
 */
const publicCert = Command.make(
  "public-cert",
  {
    dir: dirOption,
    serverCert: Options.file("server-cert").pipe(
      Options.withDescription("PEM chain from a public CA for irp.<domain>, leaf first, EKU serverAuth")
    ),
    serverKey: Options.file("server-key").pipe(
      Options.withDescription("its PEM private key (PKCS#8, unencrypted, ECDSA P-256 or Ed25519)")
    )
  },
  (o) =>
    Effect.gen(function* () {
      const done = yield* setPublicChain(o.dir, o.serverCert, o.serverKey).pipe(
        Effect.mapError((e) =>
          e.reason === "BadParameter"
            ? usage(e.message.replace(/\.$/, ""))
            : new CliFailure({
                code: ExitCode.State,
                message: `${e.message} (is ${o.dir} a directory made by \`sixchat irp init\`?)`
              })
        )
      )
      yield* stdoutLine(`public chain of irp.${done.domain} stored in ${done.cert} (key ${done.key})`)
      yield* stdoutLine("restart irp serve to present it to other domains' IRPs")
    })
).pipe(
  Command.withDescription(
    "store the public CA chain for irp.<domain> that other domains' IRPs verify (federation, PROTOCOL.md 22.2.1)"
  )
)

const token = Command.make(
  "token",
  {
    dir: dirOption,
    handle: Options.text("handle").pipe(Options.withDescription("who may enrol with it, e.g. alice@example.org")),
    ttl: Options.text("ttl").pipe(
      Options.optional,
      Options.withDescription("lifetime: 90s, 30m, 24h, 7d (default from irp.json)")
    ),
    db: dbOption
  },
  (o) =>
    Effect.gen(function* () {
      const domain = yield* loadDomainOrFail(o.dir)
      const handle = yield* Schema.decodeUnknown(Handle)(o.handle).pipe(
        Effect.mapError(() => usage(`"${o.handle}" is not a handle like alice@${domain.config.domain}`))
      )
      if (handleDomain(handle) !== domain.config.domain)
        return yield* usage(
          `${handle} is not in ${domain.config.domain}: this domain can only enrol @${domain.config.domain}`
        )
      const ttl = Option.isSome(o.ttl) ? parseTtl(o.ttl.value) : domain.config.tokenTtlSeconds
      if (ttl === undefined || ttl < 60 || ttl > 30 * 86_400)
        return yield* usage("--ttl must be between 60s and 30d, e.g. 24h")
      const entropy = yield* Entropy
      const text = formatEnrollmentToken(entropy.bytes(ENROLLMENT_TOKEN_BYTES))
      const spec = yield* databaseFor(o.dir, domain, o.db)
      const now = yield* Clock.currentTimeMillis
      yield* Effect.flatMap(IrpRegistry, (r) =>
        r.createToken({
          handle,
          tokenHash: new Uint8Array(createHash("sha256").update(text).digest()),
          expiresAt: now + ttl * 1000
        })
      ).pipe(Effect.mapError(storageFailure), Effect.provide(registryLayer(spec)))
      // The token alone on stdout, so scripts can capture it.
      yield* stdoutLine(text)
      yield* stderrLine(`one-time token for ${handle}, valid ${ttl}s`)
    })
).pipe(Command.withDescription("print a one-time enrolment token for a handle (the token alone on stdout)"))

const revoke = Command.make(
  "revoke",
  {
    dir: dirOption,
    serial: Options.text("serial").pipe(Options.optional, Options.withDescription("certificate serial (hex)")),
    handle: Options.text("handle").pipe(
      Options.optional,
      Options.withDescription("revoke every certificate of this handle")
    ),
    reason: Options.choice("reason", RevocationReason.literals).pipe(Options.withDefault("unspecified" as const)),
    db: dbOption
  },
  (o) =>
    Effect.gen(function* () {
      if (Option.isSome(o.serial) === Option.isSome(o.handle))
        return yield* usage("give exactly one of --serial S or --handle H")
      const domain = yield* loadDomainOrFail(o.dir)
      const spec = yield* databaseFor(o.dir, domain, o.db)
      const at = yield* Clock.currentTimeMillis
      const registry = Effect.provide(registryLayer(spec))
      if (Option.isSome(o.serial)) {
        const serial = yield* Schema.decodeUnknown(SerialHex)(
          o.serial.value.toLowerCase().replace(/^0+(?=.)/, "")
        ).pipe(
          Effect.mapError(() =>
            usage(`--serial "${o.serial.pipe(Option.getOrElse(() => ""))}" is not a hex serial number`)
          )
        )
        yield* Effect.flatMap(IrpRegistry, (r) => r.revoke({ serial, reason: o.reason, at })).pipe(
          Effect.mapError((e) =>
            e.reason === "NotFound"
              ? new CliFailure({
                  code: ExitCode.Rejected,
                  message: `no certificate with serial ${serial} was issued here`
                })
              : storageFailure(e)
          ),
          registry
        )
        yield* stdoutLine(`revoked ${serial} (${o.reason})`)
        return
      }
      const handle = yield* Schema.decodeUnknown(Handle)(Option.getOrElse(o.handle, () => "")).pipe(
        Effect.mapError(() => usage("--handle must be a handle like alice@example.org"))
      )
      const revoked = yield* Effect.flatMap(IrpRegistry, (r) => r.revokeHandle({ handle, reason: o.reason, at })).pipe(
        Effect.mapError(storageFailure),
        registry
      )
      if (revoked.length === 0)
        return yield* new CliFailure({ code: ExitCode.Rejected, message: `${handle} has no unrevoked certificate` })
      for (const r of revoked) yield* stdoutLine(`revoked ${r.serial} (${o.reason})`)
    })
).pipe(
  Command.withDescription("revoke a certificate by serial, or every certificate of a handle (takes effect at once)")
)

export const irpAdminCommands = [init, token, revoke, publicCert] as const
