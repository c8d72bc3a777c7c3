/**
 * One warm-up run of the bundled command line for its code cache (`bundle.ts` runs it once per command
 * line of `WARM_UP`): `node dist/cli/build/warm.js ARGS…` runs `sixchat ARGS…` from the bundle with the
 * cache so far and, on exit, writes the cache again with what this command line compiled added.
 */
import { CODE_CACHE, runBundle } from "../bundled.js"

if (!runBundle(CODE_CACHE)) {
  process.stderr.write("warm: dist/bundle/sixchat.cjs is missing\n")
  process.exit(70)
}
