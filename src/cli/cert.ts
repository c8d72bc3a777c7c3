/**
 * `sixchat cert ...`: certificate tools.
 */
import * as Command from "@effect/cli/Command"
import { certVerifyCommand } from "./certVerify.js"

export const certCommand = Command.make("cert").pipe(
  Command.withDescription("certificate tools"),
  Command.withSubcommands([certVerifyCommand])
)
