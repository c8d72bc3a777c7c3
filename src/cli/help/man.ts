/**
 * Man pages (roff, section 1) from the same command model as `--help`: `sixchat(1)` for the tree and
 * `sixchat-CMD(1)` for each command and group (`sixchat-irp-serve(1)`), each with NAME, SYNOPSIS,
 * DESCRIPTION, COMMANDS or ARGUMENTS and OPTIONS, EXAMPLES, EXIT STATUS and SEE ALSO.
 */
import { exitStatusOf } from "../failure.js"
import { VERSION } from "../version.js"
import { examplesOf } from "./examples.js"
import type { CommandDoc } from "./model.js"
import { GLOBAL_OPTIONS, optionLabel, usageWords } from "./render.js"

/** Text safe in roff: backslashes and hyphens escaped, no line starting with a control character. */
const esc = (text: string): string => text.replace(/\\/g, "\\e").replace(/-/g, "\\-")
const line = (text: string): string => (/^[.']/.test(text) ? `\\&${esc(text)}` : esc(text))

export const pageName = (doc: CommandDoc): string => ["sixchat", ...doc.path].join("-")

/** Every command of the tree, depth first (the root first). */
export const allCommands = (doc: CommandDoc): ReadonlyArray<CommandDoc> => [
  doc,
  ...doc.subcommands.flatMap(allCommands)
]

export const manPage = (doc: CommandDoc): string => {
  const name = pageName(doc)
  const out: Array<string> = [
    `.TH ${name.toUpperCase()} 1 "" "sixchat ${VERSION}" "SixChat Manual"`,
    ".SH NAME",
    `${esc(name)} \\- ${esc(doc.description)}`,
    ".SH SYNOPSIS",
    ".nf",
    line(usageWords(doc).join(" ")),
    ".fi",
    ".SH DESCRIPTION",
    line(doc.description)
  ]
  const items = (title: string, rows: ReadonlyArray<readonly [string, string]>) => {
    if (rows.length === 0) return
    out.push(`.SH ${title}`)
    for (const [label, text] of rows) out.push(".TP", `.B ${esc(label)}`, line(text))
  }
  items(
    "COMMANDS",
    doc.subcommands.map((c) => [c.name, `${c.description} (see ${pageName(c)}(1))`])
  )
  items(
    "ARGUMENTS",
    doc.args.map((a) => [a.name, a.description])
  )
  items(
    "OPTIONS",
    [...doc.options, ...GLOBAL_OPTIONS].map((o) => [optionLabel(o), o.description])
  )
  const examples = examplesOf(doc.path)
  if (examples.length > 0) {
    out.push(".SH EXAMPLES")
    for (const [what, command] of examples)
      out.push(".PP", line(what), ".PP", ".RS", ".nf", line(command), ".fi", ".RE")
  }
  items(
    "EXIT STATUS",
    exitStatusOf(doc.path).map(([code, text]) => [String(code), text])
  )
  const parents = doc.path.map((_, i) => ["sixchat", ...doc.path.slice(0, i)].join("-"))
  const children = doc.subcommands.map(pageName)
  const related = [...parents, ...children]
  out.push(
    ".SH SEE ALSO",
    related.length === 0 ? "the README of the sixchat package" : esc(related.map((p) => `${p}(1)`).join(", "))
  )
  return `${out.join("\n")}\n`
}

/** `[file name, roff]` for every page of the tree. */
export const manPages = (root: CommandDoc): ReadonlyArray<readonly [string, string]> =>
  allCommands(root).map((doc) => [`${pageName(doc)}.1`, manPage(doc)])
