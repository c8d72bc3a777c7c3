/**
 * What `sixchat chat` shows for each message and agent event of one conversation: message lines with
 * delivery marks (… queued, ✓ sent, ✓✓ delivered, ✓✓ read), the peer's typing notice and file
 * transfer progress before the prompt, sessions, key changes and transfers as `*` lines. Knows which
 * messages it has shown, so a message reported twice (the `send` answer and its event) prints once.
 */
import type { KeyChange } from "../../domain/agent/contacts.js"
import type { DomainKeyChange } from "../../domain/agent/domainRoots.js"
import type { StoredMessage } from "../../domain/agent/messages.js"
import { isTerminalTransfer, type Transfer } from "../../domain/agent/transfers.js"
import type { Handle, Id } from "../../domain/brands.js"
import { handleDomain } from "../../domain/brands.js"
import type { AgentEvent } from "../../services/Agent.js"
import type { ChatScreen } from "./chatScreen.js"
import { bytes, clock, indentBody, localPart, printable, sentNote, stateMark, transferName } from "./format.js"
import { domainKeyChangeAdvice, domainKeyChangeSummary, keyChangeAdvice, keyChangeSummary } from "./keyChange.js"

/** How long a typing notice stays up without news (the peer sends `active` again while typing). */
export const PEER_TYPING_TIMEOUT_MS = 6000

const snippet = (body: string) => {
  const line = printable(body).replace(/\n/g, " ")
  return line.length > 40 ? `${line.slice(0, 39)}…` : line
}

export class ChatView {
  private readonly shown = new Map<Id, StoredMessage>()
  private readonly transferStates = new Map<Id, string>()
  private readonly progress = new Map<Id, string>()
  private readonly names = new Map<Id, string>()
  private readonly keyChangesShown = new Set<string>()
  private peerTypingAt: number | undefined

  constructor(
    private readonly peer: Handle,
    private readonly screen: ChatScreen
  ) {}

  /** `[10:04] bob: hi` / `[10:04] you: hello ✓✓` */
  messageLine(m: StoredMessage): string {
    const who = m.direction === "out" ? "you" : localPart(this.peer)
    const head = `[${clock(m.at)}] ${who}: `
    const mark = stateMark(m)
    const sent = sentNote(m)
    return `${head}${indentBody(m.body, head.length)}${mark === "" ? "" : ` ${mark}`}${sent === "" ? "" : ` (${sent.slice(2)})`}`
  }

  /** Shows a message once; `true` when it was new here. */
  message(m: StoredMessage): boolean {
    if (m.peer !== this.peer || this.shown.has(m.id)) return false
    this.shown.set(m.id, m)
    this.screen.print(this.messageLine(m), m.id)
    if (m.direction === "in") this.clearTyping()
    return true
  }

  /** A message's state changed: rewrite its line, or note the change on a line of its own. */
  updated(m: StoredMessage): void {
    const before = this.shown.get(m.id)
    if (before === undefined || m.direction !== "out" || before.state === m.state) return
    this.shown.set(m.id, m)
    if (this.screen.update(m.id, this.messageLine(m))) return
    if (m.state === "delivered" || m.state === "read" || m.state === "cancelled" || m.state === "expired")
      this.screen.print(`  ${stateMark(m)} ${snippet(m.body)}`)
  }

  note(text: string): void {
    this.screen.print(`* ${text}`)
  }

  /** A key change as a system line, once per change and status (history and live events both report it). */
  keyChange(c: KeyChange): void {
    const key = `${c.seq}:${c.status}`
    if (c.handle !== this.peer || this.keyChangesShown.has(key)) return
    this.keyChangesShown.add(key)
    this.screen.print(`*** ${printable(keyChangeSummary(c))}: ${printable(keyChangeAdvice(c))}`)
  }

  /** The peer's domain CA changed (PROTOCOL.md §22.3.3): a system line, as a key change is. */
  domainKeyChange(c: DomainKeyChange): void {
    const key = `domain:${c.seq}:${c.status}`
    if (c.domain !== handleDomain(this.peer) || this.keyChangesShown.has(key)) return
    this.keyChangesShown.add(key)
    this.screen.print(`*** ${printable(domainKeyChangeSummary(c))}: ${printable(domainKeyChangeAdvice(c))}`)
  }

  private transfer(t: Transfer): void {
    if (t.peer !== this.peer || this.transferStates.get(t.id) === t.state) return
    this.transferStates.set(t.id, t.state)
    const name = transferName(t)
    this.names.set(t.id, name)
    if (isTerminalTransfer(t.state)) this.progress.delete(t.id)
    const detail = t.detail === null ? "" : ` (${printable(t.detail)})`
    if (t.direction === "out") {
      if (t.state === "offered") this.note(`offered ${name} (${bytes(t.size)}); it goes once ${this.peer} accepts`)
      else if (t.state === "accepted") this.note(`${localPart(this.peer)} accepted ${name}`)
      else if (t.state === "done") this.note(`${name} delivered; ${localPart(this.peer)} verified it ✓✓`)
      else if (t.state === "failed" || t.state === "cancelled") this.note(`${name}: ${t.state}${detail}`)
    } else if (t.state === "offered") this.note(`${localPart(this.peer)} offers ${name} (${bytes(t.size)})`)
    else if (t.state === "done")
      this.note(`received ${name} (${bytes(t.size)}), verified: ${printable(t.finalPath ?? t.name)}`)
    else if (t.state === "failed" || t.state === "cancelled") this.note(`${name}: ${t.state}${detail}`)
    this.refreshStatus()
  }

  /** Handles one agent event; `true` when a message from the peer arrived (the caller marks it read). */
  event(e: AgentEvent, now: number): boolean {
    switch (e._tag) {
      case "agent.MessageAdded":
        return this.message(e.message) && e.message.direction === "in"
      case "agent.MessageUpdated":
        this.updated(e.message)
        return false
      case "agent.Typing":
        if (e.peer === this.peer) {
          this.peerTypingAt = e.state === "active" ? now : undefined
          this.refreshStatus()
        }
        return false
      case "agent.TransferUpdated":
        this.transfer(e.transfer)
        return false
      case "agent.TransferProgress":
        if (e.ref.peer === this.peer && this.transferStates.get(e.ref.id) !== undefined && e.size > 0) {
          this.progress.set(e.ref.id, `${Math.floor((e.offset * 100) / e.size)}%`)
          this.refreshStatus()
        }
        return false
      case "agent.SessionUp":
        if (e.session.peer === this.peer)
          this.note(`connected to ${this.peer} (session code ${printable(e.session.sessionCode)})`)
        return false
      case "agent.SessionDown":
        if (e.peer === this.peer)
          this.note(`disconnected from ${this.peer} (${printable(e.reason)}); messages wait in the outbox`)
        return false
      case "agent.KeyChanged":
        if (e.change.handle === this.peer) this.keyChange(e.change)
        return false
      case "agent.DomainKeyChanged":
        this.domainKeyChange(e.change)
        return false
      case "agent.ContactPinned":
        if (e.handle === this.peer) this.note(`pinned ${this.peer}'s key ${e.fingerprint.slice(0, 16)}…`)
        return false
      case "agent.Presence":
        this.note(printable(e.message))
        return false
    }
  }

  /** Drops a typing notice that went stale. */
  tick(now: number): void {
    if (this.peerTypingAt !== undefined && now - this.peerTypingAt > PEER_TYPING_TIMEOUT_MS) this.clearTyping()
  }

  private clearTyping(): void {
    if (this.peerTypingAt === undefined) return
    this.peerTypingAt = undefined
    this.refreshStatus()
  }

  private refreshStatus(): void {
    const parts = [...this.progress.entries()].map(([id, pct]) => `[${this.names.get(id) ?? "file"} ${pct}]`)
    if (this.peerTypingAt !== undefined) parts.unshift(`${localPart(this.peer)} is typing…`)
    this.screen.setStatus(parts.join(" "))
  }
}
