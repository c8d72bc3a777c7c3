/**
 * The `sixchat` command tree.
 */
import * as Command from "@effect/cli/Command"
import { certCommand } from "./cert.js"
import { demoCommand } from "./demo.js"
import { peerCommand } from "./peer.js"

export const VERSION = "0.1.0"

export const root = Command.make("sixchat").pipe(
  Command.withDescription("SixChat: direct, end-to-end encrypted messaging between people (E2E port 4605, IRP 4604)"),
  Command.withSubcommands([demoCommand, peerCommand, certCommand])
)

export const run = Command.run(root, { name: "sixchat", version: VERSION })
