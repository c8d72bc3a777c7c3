/**
 * Reads the command line against the command tree before @effect/cli parses it, for what its parser
 * does not do as people expect (issue 13): `--help` anywhere prints our help for the command named so
 * far; a misspelled command or option fails with "did you mean", naming the word that is wrong
 * (`send --hme X` blames `--hme`, not `X`); a command group without its command prints its help.
 */
import type { CommandDoc, OptionDoc } from "./model.js"

export type Checked =
  | { readonly _tag: "Help"; readonly doc: CommandDoc }
  | { readonly _tag: "MissingCommand"; readonly doc: CommandDoc }
  | { readonly _tag: "Unknown"; readonly message: string }
  | { readonly _tag: "Parse"; readonly doc: CommandDoc }

/** @effect/cli's own options, with whether they take a value. */
const BUILT_IN: ReadonlyMap<string, boolean> = new Map([
  ["--help", false],
  ["-h", false],
  ["--version", false],
  ["--wizard", false],
  ["--completions", true],
  ["--log-level", true]
])

/** Edit distance counting a swap of two neighbours as one edit (`sned` is one from `send`). */
export const distance = (a: string, b: string): number => {
  const d: Array<Array<number>> = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0))
  )
  const at = (i: number, j: number) => d[i]?.[j] ?? 0
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1)
      const row = d[i]
      if (row !== undefined) row[j] = best
    }
  return at(a.length, b.length)
}

/** The closest of `candidates` to `word`, if close enough to be a typo (or `word` is a prefix of it). */
export const closest = (word: string, candidates: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of candidates) {
    const d = candidate.startsWith(word) && word.replace(/^-+/, "").length >= 2 ? 0.5 : distance(word, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined
}

const named = (doc: CommandDoc) => `\`${["sixchat", ...doc.path].join(" ")}\``
const helpOf = (doc: CommandDoc) => `\`${["sixchat", ...doc.path, "--help"].join(" ")}\``

const findOption = (doc: CommandDoc, name: string): OptionDoc | undefined =>
  doc.options.find((o) => o.names.includes(name))

export const check = (root: CommandDoc, args: ReadonlyArray<string>): Checked => {
  let doc = root
  let help = false
  let builtInAction = false
  let commandGiven = root.subcommands.length === 0
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    if (arg === "--") break
    if (arg.startsWith("-") && arg.length > 1) {
      const name = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg
      if (name === "--help" || name === "-h") {
        help = true
        continue
      }
      const builtIn = BUILT_IN.get(name)
      if (builtIn !== undefined) {
        if (name !== "--log-level") builtInAction = true
        if (builtIn && !arg.includes("=")) i++
        continue
      }
      const option = findOption(doc, name)
      if (option === undefined) {
        const names = doc.options.flatMap((o) => o.names)
        const guess = closest(name, [...names, "--help"])
        return {
          _tag: "Unknown",
          message: `${named(doc)} has no option ${name}${guess === undefined ? "" : `; did you mean ${guess}?`} (see ${helpOf(doc)})`
        }
      }
      if (option.placeholder !== undefined && !arg.includes("=")) i++
      continue
    }
    if (doc.subcommands.length === 0) continue
    const next = doc.subcommands.find((c) => c.name === arg)
    if (next === undefined) {
      if (help) break
      const guess = closest(
        arg,
        doc.subcommands.map((c) => c.name)
      )
      return {
        _tag: "Unknown",
        message: `'${arg}' is not a command of ${named(doc)}${guess === undefined ? "" : `; did you mean '${guess}'?`} (see ${helpOf(doc)})`
      }
    }
    doc = next
    commandGiven = doc.subcommands.length === 0 || doc.runnable === true
  }
  if (help) return { _tag: "Help", doc }
  if (!commandGiven && !builtInAction) return { _tag: "MissingCommand", doc }
  return { _tag: "Parse", doc }
}
