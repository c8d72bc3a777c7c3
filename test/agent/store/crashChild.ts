/**
 * Child process for the crash tests (`durability.test.ts`), run with vite-node so that it uses the
 * real layer. `enqueue FILE` stores outgoing messages as fast as it can, `receive FILE` stores incoming
 * ones; after each call RETURNS it prints the id (`stored <id>`): the moment the agent would report
 * "sent" to the user or send `<Ack>` to the peer. The parent kills it with SIGKILL mid-stream.
 * Bounded (at most 20 000 messages) in case the parent fails to kill it.
 */
import { Effect } from "effect"
import { Handle } from "../../../src/domain/brands.js"
import { ulidFrom } from "../../../src/domain/ulid.js"
import * as AgentStoreLive from "../../../src/layers/agent/store/AgentStoreLive.js"
import { AgentStore } from "../../../src/services/AgentStore.js"

const [mode, file] = process.argv.slice(2)
if ((mode !== "enqueue" && mode !== "receive") || file === undefined) {
  process.stderr.write("usage: crashChild.ts enqueue|receive FILE\n")
  process.exit(2)
}
const peer = Handle.make("bob@example.org")

const program = Effect.gen(function* () {
  const store = yield* AgentStore
  for (let i = 0; i < 20_000; i++) {
    const random = new Uint8Array(10)
    new DataView(random.buffer).setUint32(6, i)
    const id = ulidFrom(1_700_000_000_000 + i, random)
    if (mode === "enqueue") {
      yield* store.enqueue({ id, peer, body: `message ${i}`, now: 1_700_000_000_000 + i })
      // Keep the relaxed writes in the mix, as the agent would.
      if (i % 3 === 0) yield* store.markSent({ id, now: 1_700_000_000_000 + i })
    } else {
      yield* store.receive({
        id,
        peer,
        body: `message ${i}`,
        createdAt: 1_700_000_000_000 + i,
        now: 1_700_000_000_000 + i
      })
    }
    process.stdout.write(`stored ${id}\n`)
  }
})

Effect.runPromise(Effect.provide(program, AgentStoreLive.layer(file))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
