/**
 * `irp revoke --handle carol` (SQLite, from another process) while Bob does not watch Carol: Bob closes
 * her live session and refuses her within the staple lifetime (PROTOCOL.md §13.6.3; `stapleOperator.ts`).
 */
import { afterAll, beforeAll, describe, it } from "vitest"
import { type OperatorWorld, operatorRevokesCarol, setUp } from "./stapleOperator.js"

let world: OperatorWorld

beforeAll(async () => {
  world = await setUp()
}, 120_000)

afterAll(async () => {
  await world?.stop()
}, 30_000)

describe("operator revocation reaches an agent that does not watch (SQLite)", () => {
  it("bob closes and refuses carol within the staple lifetime", () => operatorRevokesCarol(world, "sqlite"), 90_000)
})
