/**
 * The terminal side of `sixchat chat`: a `node:readline` prompt with lines printed above it while the
 * person types (issue 4, section 4: "incoming messages appear while typing"; "works under tmux").
 *
 * On a terminal (stdin and stdout both TTYs) only plain ANSI is used (cursor up, column 0, erase
 * down), which tmux and screen pass through: to print, the input area is erased, the line written,
 * and readline redraws the prompt with what was typed so far (`prompt(true)` keeps the cursor). The
 * last printed line can be rewritten in place while nothing came after it (a delivery mark turning
 * from ✓ to ✓✓). When stdin or stdout is not a terminal, the chat runs in line mode: every input line
 * is a message, every output a plain line, no prompt and no escape sequences.
 */
import * as Readline from "node:readline"
import { Effect, type Scope } from "effect"
import { isTerminal, type PeopleIoService } from "./io.js"

export type ChatInput =
  | { readonly _tag: "Line"; readonly line: string }
  | { readonly _tag: "Key" }
  | { readonly _tag: "End" }

export interface ChatScreen {
  readonly terminal: boolean
  /** Prints a line above the prompt; `key` lets `update` rewrite it while it is the last line. */
  readonly print: (text: string, key?: string) => void
  /** Rewrites the last printed line if it was printed with `key` (terminal only); `false` otherwise. */
  readonly update: (key: string, text: string) => boolean
  /** Text shown before the prompt (typing notice, transfer progress); terminal only. */
  readonly setStatus: (status: string) => void
}

const PROMPT = "> "

/** Rows a string of plain text takes on a terminal `columns` wide (1 for the empty string). */
const rowsOf = (length: number, columns: number): number => Math.max(1, Math.ceil(length / columns))

/** Only plain ASCII lines are rewritten in place: their width on screen is their length. */
const isSimpleLine = (text: string, columns: number): boolean =>
  text.length < columns && /^[\x20-\x7e]*$/.test(text.replace(/[✓✗…]/g, "x"))

export const openChatScreen = (
  io: PeopleIoService,
  onInput: (input: ChatInput) => void
): Effect.Effect<ChatScreen, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const terminal = isTerminal(io.stdin) && isTerminal(io.stdout)
      const out = io.stdout
      const rl = terminal
        ? Readline.createInterface({ input: io.stdin, output: out, terminal: true, prompt: PROMPT })
        : Readline.createInterface({ input: io.stdin, terminal: false })
      const columns = () => (out.columns !== undefined && out.columns > 0 ? out.columns : 80)
      let last: { key: string; text: string } | undefined
      let promptText = PROMPT

      /** Erases the input area (the prompt and what was typed), leaving the cursor at its start. */
      const eraseInput = (extraRowsUp: number) => {
        const rows = rl.getCursorPos().rows
        Readline.moveCursor(out, 0, -(rows + extraRowsUp))
        Readline.cursorTo(out, 0)
        Readline.clearScreenDown(out)
        return rows
      }
      /** Writes `text` where the cursor is, then lets readline redraw the prompt below it. */
      const writeAndRedraw = (text: string, rows: number) => {
        // readline moves up `rows` before redrawing: give it those rows below the text.
        out.write(`${text}\n${"\n".repeat(rows)}`)
        rl.prompt(true)
      }

      rl.on("line", (line) => {
        if (terminal) {
          // Replace the echoed input ("> hello") with what the chat prints for it.
          const rows = rowsOf(promptText.length + line.length, columns())
          Readline.moveCursor(out, 0, -rows)
          Readline.cursorTo(out, 0)
          Readline.clearScreenDown(out)
          rl.prompt(true)
        }
        onInput({ _tag: "Line", line })
      })
      rl.on("close", () => onInput({ _tag: "End" }))
      rl.on("SIGINT", () => onInput({ _tag: "End" }))
      const onKeypress = (_text: string | undefined, key: { name?: string } | undefined) => {
        if (key?.name !== "return" && key?.name !== "enter") onInput({ _tag: "Key" })
      }
      if (terminal) {
        io.stdin.on("keypress", onKeypress)
        rl.prompt()
      }

      const screen: ChatScreen = {
        terminal,
        print: (text, key) => {
          if (!terminal) {
            out.write(`${text}\n`)
            return
          }
          writeAndRedraw(text, eraseInput(0))
          last = key !== undefined && isSimpleLine(text, columns()) ? { key, text } : undefined
        },
        update: (key, text) => {
          if (!terminal || last?.key !== key || !isSimpleLine(text, columns())) return false
          writeAndRedraw(text, eraseInput(1))
          last = { key, text }
          return true
        },
        setStatus: (status) => {
          if (!terminal) return
          const next = status === "" ? PROMPT : `${status} ${PROMPT}`
          if (next === promptText) return
          promptText = next
          rl.setPrompt(next)
          rl.prompt(true)
        }
      }
      return { screen, rl, terminal, onKeypress }
    }),
    ({ rl, terminal, onKeypress }) =>
      Effect.sync(() => {
        io.stdin.off("keypress", onKeypress)
        rl.removeAllListeners("close")
        rl.close()
        if (terminal) io.stdout.write("\n")
      })
  ).pipe(Effect.map(({ screen }) => screen))
