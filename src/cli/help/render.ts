/**
 * `--help` in the style of git and openssl: a usage line, the description, one aligned line per
 * argument and option (wrapped at the terminal's width or 80 columns, no boilerplate), EXAMPLES and
 * EXIT STATUS. Headers are bold only on a terminal and never with NO_COLOR (https://no-color.org).
 */
import { exitStatusOf } from "../failure.js"
import { examplesOf } from "./examples.js"
import type { ArgDoc, CommandDoc, OptionDoc } from "./model.js"

export interface Style {
  readonly color: boolean
  readonly width: number
}

/** The style for a stream: colour on a terminal without NO_COLOR, its width (at most 100). */
export const styleFor = (
  stream: { readonly isTTY?: boolean; readonly columns?: number },
  env = process.env
): Style => ({
  color: stream.isTTY === true && (env.NO_COLOR ?? "") === "",
  width: Math.max(60, Math.min(stream.columns ?? 80, 100))
})

/** The built-in options every command takes. */
export const GLOBAL_OPTIONS: ReadonlyArray<OptionDoc> = [
  { names: ["-h", "--help"], placeholder: undefined, description: "show this help", optional: true, repeatable: false },
  {
    names: ["--version"],
    placeholder: undefined,
    description: "print the version",
    optional: true,
    repeatable: false
  }
]

const bold = (style: Style, text: string) => (style.color ? `\u001b[1m${text}\u001b[0m` : text)

/** Words of `text` in lines of at most `width`, the first prefixed by `first`, the rest indented to its length. */
export const wrap = (
  text: string | ReadonlyArray<string>,
  width: number,
  first: string,
  indent = first.length
): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let line = first
  let empty = true
  const words = typeof text === "string" ? text.split(/\s+/) : text
  for (const word of words.filter((w) => w !== "")) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line)
      line = " ".repeat(indent) + word
    } else line = empty ? line.padEnd(indent) + word : `${line} ${word}`
    empty = false
  }
  lines.push(line.trimEnd())
  return lines
}

export const optionLabel = (o: OptionDoc): string => {
  const names = [...o.names].sort((a, b) => a.length - b.length).join(", ")
  return o.placeholder === undefined ? names : `${names} ${o.placeholder}`
}

const argUsage = (a: ArgDoc): string => {
  const name = a.repeatable ? `${a.name}...` : a.name
  return a.optional ? `[${name}]` : name
}

const optionUsage = (o: OptionDoc): string => {
  const first = o.names[0] ?? ""
  const text = o.placeholder === undefined ? first : `${first} ${o.placeholder}`
  const shown = o.repeatable ? `${text}...` : text
  return o.optional ? `[${shown}]` : shown
}

/** `sixchat send [--home DIR] HANDLE TEXT`, or `sixchat irp COMMAND` for a group, as the words not to break. */
export const usageWords = (doc: CommandDoc): ReadonlyArray<string> => [
  ["sixchat", ...doc.path].join(" "),
  ...doc.options.map(optionUsage),
  ...(doc.subcommands.length > 0 ? [doc.runnable === true ? "[COMMAND]" : "COMMAND"] : doc.args.map(argUsage))
]

const table = (style: Style, rows: ReadonlyArray<readonly [string, string]>): ReadonlyArray<string> => {
  const column = Math.min(Math.max(...rows.map(([label]) => label.length)) + 4, 32)
  return rows.flatMap(([label, text]) => {
    const first = `  ${label}`
    return first.length + 2 > column
      ? [first, ...wrap(text, style.width, " ".repeat(column))]
      : wrap(text, style.width, first, column)
  })
}

export const exitStatusLines = (style: Style, path: ReadonlyArray<string> = []): ReadonlyArray<string> =>
  table(
    style,
    exitStatusOf(path).map(([code, text]) => [String(code), text])
  )

export const renderHelp = (doc: CommandDoc, style: Style): string => {
  const out: Array<string> = []
  const section = (title: string, lines: ReadonlyArray<string>) => {
    if (lines.length === 0) return
    out.push("", bold(style, title), ...lines)
  }
  out.push(...wrap(usageWords(doc), style.width, "usage: "))
  if (doc.description !== "") out.push("", ...wrap(doc.description, style.width, ""))
  section(
    "COMMANDS",
    table(
      style,
      doc.subcommands.map((c) => [c.name, c.description])
    )
  )
  section(
    "ARGUMENTS",
    table(
      style,
      doc.args.map((a) => [a.name, a.description])
    )
  )
  section(
    "OPTIONS",
    table(
      style,
      [...doc.options, ...(doc.path.length === 0 ? GLOBAL_OPTIONS : GLOBAL_OPTIONS.slice(0, 1))].map((o) => [
        optionLabel(o),
        o.description
      ])
    )
  )
  section(
    "EXAMPLES",
    examplesOf(doc.path).flatMap(([what, line]) => [...wrap(what, style.width, "  "), `    ${line}`])
  )
  if (doc.subcommands.length > 0)
    out.push("", `Run \`sixchat ${[...doc.path, "COMMAND"].join(" ")} --help\` for a command's options.`)
  section("EXIT STATUS", exitStatusLines(style, doc.path))
  if (doc.path.length === 0) out.push("", "See man sixchat (and man sixchat-COMMAND) for more.")
  return `${out.join("\n")}\n`
}
