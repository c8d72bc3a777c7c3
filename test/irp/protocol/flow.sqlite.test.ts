/** The core IRP flow on SQLite. */
import { afterAll, beforeAll, describe } from "vitest"
import type { LoadedDomain } from "../../../src/layers/ca/DomainDirectory.js"
import { flowSuite } from "./flow.js"
import { makeDomain, removeTempDirs, sqliteRegistry } from "./support.js"

let domain: LoadedDomain
beforeAll(async () => {
  domain = await makeDomain()
})
afterAll(removeTempDirs)

describe("IRP over TCP, SQLite storage", () => {
  flowSuite("SQLite", () => domain, sqliteRegistry)
})
