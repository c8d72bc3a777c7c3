/**
 * The commands for people (issue 4, section 4), all clients of the running agent's control socket
 * (docs/CONTROL.md). `app.ts` adds them to the `sixchat` command tree; `sixchat agent` itself runs the
 * agent (see `src/cli/agent*.ts`).
 */
import { acceptCommand } from "./accept.js"
import { chatCommand } from "./chat.js"
import { contactCommand, contactsCommand, trustCommand } from "./contacts.js"
import { historyCommand } from "./history.js"
import { outboxCommand } from "./outbox.js"
import { sendCommand, sendFileCommand } from "./send.js"
import { statusCommand } from "./status.js"

export const peopleCommands = [
  sendCommand,
  sendFileCommand,
  acceptCommand,
  historyCommand,
  chatCommand,
  contactsCommand,
  contactCommand,
  trustCommand,
  statusCommand,
  outboxCommand
] as const

export { runChat } from "./chat.js"
export { runContactShow, runContacts, runTrust } from "./contacts.js"
export { runHistory } from "./history.js"
export { PeopleIo, type PeopleIoService } from "./io.js"
export { runOutbox, runOutboxCancel } from "./outbox.js"
export { runContactVerify } from "./safety.js"
export { runSend, runSendFile } from "./send.js"
export { runStatus } from "./status.js"
