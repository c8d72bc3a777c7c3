/** Vitest setup file: every test file removes the temp directories it registered (`tempDirs.ts`). */
import { afterAll } from "vitest"
import { removeTempDirs } from "./tempDirs.js"

afterAll(removeTempDirs)
