/**
 * The `sixchat` command tree.
 */
import * as Command from "@effect/cli/Command"
import { agentCommand } from "./agent.js"
import { certCommand } from "./cert.js"
import { demoCommand } from "./demo.js"
import { domainCommand } from "./domainShow.js"
import { enrollCommand } from "./enroll.js"
import { idCommands } from "./id.js"
import { idRotateCommand } from "./idRotate.js"
import { irpAdminCommands } from "./irpAdmin.js"
import { irpServeCommand } from "./irpServe.js"
import { peerCommand } from "./peer.js"
import { peopleCommands } from "./people/index.js"
import { userIrpCommands } from "./registerLookup.js"

export const VERSION = "0.1.0"

const irp = Command.make("irp").pipe(
  Command.withDescription("run and administer a domain's IRP server (registry and certificate authority)"),
  Command.withSubcommands([irpAdminCommands[0], irpServeCommand, ...irpAdminCommands.slice(1)])
)

const id = Command.make("id").pipe(
  Command.withDescription("your identity: key, certificate, enrolment"),
  Command.withSubcommands([idCommands[0], enrollCommand, ...idCommands.slice(1), idRotateCommand])
)

export const root = Command.make("sixchat").pipe(
  Command.withDescription("SixChat: direct, end-to-end encrypted messaging between people (E2E port 4605, IRP 4604)"),
  Command.withSubcommands([
    demoCommand,
    agentCommand,
    ...peopleCommands,
    irp,
    id,
    ...userIrpCommands,
    peerCommand,
    certCommand,
    domainCommand
  ])
)

export const run = Command.run(root, { name: "sixchat", version: VERSION })
