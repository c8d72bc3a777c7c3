/**
 * The `sixchat` command tree.
 */
import * as Command from "@effect/cli/Command"
import { certCommand } from "./cert.js"
import { demoCommand } from "./demo.js"
import { idCommands } from "./id.js"
import { irpAdminCommands } from "./irpAdmin.js"
import { peerCommand } from "./peer.js"

export const VERSION = "0.1.0"

const irp = Command.make("irp").pipe(
  Command.withDescription("run and administer a domain's IRP server (registry and certificate authority)"),
  Command.withSubcommands([...irpAdminCommands])
)

const id = Command.make("id").pipe(
  Command.withDescription("your identity: key, certificate, enrolment"),
  Command.withSubcommands([...idCommands])
)

export const root = Command.make("sixchat").pipe(
  Command.withDescription("SixChat: direct, end-to-end encrypted messaging between people (E2E port 4605, IRP 4604)"),
  Command.withSubcommands([demoCommand, irp, id, peerCommand, certCommand])
)

export const run = Command.run(root, { name: "sixchat", version: VERSION })
