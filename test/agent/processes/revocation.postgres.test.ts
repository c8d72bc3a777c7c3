/**
 * Revocation reaches every watching agent (issue 10 §2; PROTOCOL.md 17.9.3), real processes on
 * PostgreSQL: two `irp serve` processes sharing one fresh schema (A and B). Carol and erin use A, bob's
 * agent uses B; the revocations are made through A or beside both servers:
 *
 * (b) the operator's `sixchat irp revoke --handle carol`, a separate process on the database;
 * (b') erin's own `sixchat revoke` through server A.
 *
 * Bob's agent, which learns of changes only through B, must close its live (inbound) session with
 * `certificate_revoked` within 2 s of the revocation, measured from the stored `revoked_at` to the
 * arrival of bob's `SessionDown` event here. Skipped, with a message, only when PostgreSQL is not
 * reachable and SIXCHAT_REQUIRE_POSTGRES is not set.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Handle } from "../../../src/domain/brands.js"
import {
  freshSchema,
  PG_URL,
  PgTestSchema,
  postgres,
  requirePostgresTest,
  schemaClient
} from "../../support/postgres.js"
import { closedAfterRevocation, inboundSession } from "./revocationSupport.js"
import { type AgentProc, type Domain, ok, startDomain } from "./support.js"

requirePostgresTest()

const scope = Effect.runSync(Scope.make())
let sql: SqlClient.SqlClient
let domain: Domain | undefined
let bob: AgentProc
let carol: AgentProc
let erin: AgentProc
let erinHome: string

describe.skipIf(!postgres.reachable)(
  "a revocation closes every live session with that certificate (PostgreSQL)",
  () => {
    beforeAll(async () => {
      // A fresh schema (dropped with the scope) and a client on it, for reading `revoked_at`.
      const context = await Effect.runPromise(
        Layer.buildWithScope(schemaClient(1).pipe(Layer.provideMerge(freshSchema)), scope)
      )
      sql = Context.get(context, SqlClient.SqlClient)
      const { schema } = Context.get(context, PgTestSchema)
      const url = new URL(PG_URL)
      url.searchParams.set("schema", schema)
      domain = await startDomain({ db: url.toString(), extraServers: 1 })
      const [a, b] = domain.irpAddresses
      expect(b).toBeDefined()
      const homes = await Promise.all(["bob", "carol", "erin"].map((n) => domain!.enrol(n)))
      erinHome = homes[2]!
      ;[bob, carol, erin] = await Promise.all([
        domain.startAgent("bob", homes[0]!, ["--irp", b!]),
        domain.startAgent("carol", homes[1]!, ["--irp", a!]),
        domain.startAgent("erin", homes[2]!, ["--irp", a!])
      ])
    }, 90_000)

    afterAll(async () => {
      await Promise.all([bob, carol, erin].filter((x) => x !== undefined).map((x) => x.stop()))
      await domain?.cleanup()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }, 30_000)

    const revokedAt = async (handle: Handle): Promise<number> => {
      const rows = await Effect.runPromise(
        sql<{ readonly revoked_at: string | number }>`SELECT revoked_at FROM irp_certificates
          WHERE handle = ${handle} AND status = 'revoked' ORDER BY revoked_at DESC LIMIT 1`
      )
      const row = rows[0]
      if (row === undefined) throw new Error(`no revoked certificate of ${handle} in the database`)
      return Number(row.revoked_at)
    }

    it("(b) the operator's `irp revoke --handle carol` beside both servers: bob, watching through B, closes within 2 s", async () => {
      await inboundSession(bob, carol)
      const ms = await closedAfterRevocation(
        bob,
        carol,
        () => ok(["irp", "revoke", "--dir", domain!.dir, "--handle", carol.handle, "--reason", "keyCompromise"]),
        () => revokedAt(carol.handle)
      )
      console.info(`PostgreSQL, operator revoke (another process): revocation to session close at bob: ${ms} ms`)
      expect(ms).toBeLessThanOrEqual(2000)
    }, 60_000)

    it("(b') erin's own `sixchat revoke` through server A: bob, watching through B, closes within 2 s", async () => {
      await inboundSession(bob, erin)
      const ms = await closedAfterRevocation(
        bob,
        erin,
        () => ok(["revoke", "--home", erinHome, "--irp", domain!.irpAddresses[0]!, "--reason", "keyCompromise"]),
        () => revokedAt(erin.handle)
      )
      console.info(`PostgreSQL, holder revoke through the other server: revocation to session close at bob: ${ms} ms`)
      expect(ms).toBeLessThanOrEqual(2000)
    }, 60_000)
  }
)
