// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are bash, whose ${…} this is
/**
 * Shell completions from the command model (`sixchat --completions bash|zsh|fish`): commands at every
 * level, and after a command its own options (not only the global ones), with choices or file names
 * for an option's value.
 */
import { allCommands } from "./man.js"
import type { CommandDoc } from "./model.js"
import { GLOBAL_OPTIONS } from "./render.js"

export const SHELLS = ["bash", "zsh", "fish"] as const
export type Shell = (typeof SHELLS)[number]

const FILE_PLACEHOLDERS = new Set(["FILE", "DIR", "PATH"])

/** A command's options and --help (--version only at the top, as in its help). */
const optionNames = (doc: CommandDoc) =>
  [...doc.options, ...(doc.path.length === 0 ? GLOBAL_OPTIONS : GLOBAL_OPTIONS.slice(0, 1))].flatMap((o) =>
    o.names.filter((n) => n.startsWith("--"))
  )

/** What the value of an option completes to: `@files`, a list of choices, or nothing. */
const valueWords = (placeholder: string | undefined): string | undefined =>
  placeholder === undefined
    ? undefined
    : FILE_PLACEHOLDERS.has(placeholder)
      ? "@files"
      : placeholder.includes("|")
        ? placeholder.split("|").join(" ")
        : ""

const bash = (root: CommandDoc): string => {
  const all = allCommands(root)
  // Bash's associative arrays take no empty key: the root is "sixchat".
  const key = (doc: CommandDoc) => ["sixchat", ...doc.path].join(" ")
  const lines = [
    "# sixchat completion for bash (and zsh through bashcompinit): source <(sixchat --completions bash)",
    "declare -A _sixchat_subs _sixchat_opts _sixchat_values",
    ...all.map(
      (d) => `_sixchat_subs[${JSON.stringify(key(d))}]=${JSON.stringify(d.subcommands.map((c) => c.name).join(" "))}`
    ),
    ...all.map((d) => `_sixchat_opts[${JSON.stringify(key(d))}]=${JSON.stringify(optionNames(d).join(" "))}`),
    ...all.flatMap((d) =>
      d.options.flatMap((o) => {
        const words = valueWords(o.placeholder)
        return words === undefined
          ? []
          : o.names.map((n) => `_sixchat_values[${JSON.stringify(`${key(d)}|${n}`)}]=${JSON.stringify(words)}`)
      })
    ),
    "_sixchat() {",
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" path=sixchat i w next',
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    '    w="${COMP_WORDS[i]}"',
    '    next="$path $w"',
    '    [[ "$w" != -* && -n "${_sixchat_subs[$next]+x}" ]] && path="$next"',
    "  done",
    '  local v="${_sixchat_values[$path|$prev]-__none__}"',
    '  if [[ "$v" == "@files" ]]; then COMPREPLY=($(compgen -f -- "$cur")); return; fi',
    '  if [[ "$v" != "__none__" ]]; then COMPREPLY=($(compgen -W "$v" -- "$cur")); return; fi',
    '  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${_sixchat_opts[$path]}" -- "$cur"))',
    '  else COMPREPLY=($(compgen -W "${_sixchat_subs[$path]}" -- "$cur")); fi',
    "}",
    "complete -o default -F _sixchat sixchat"
  ]
  return `${lines.join("\n")}\n`
}

const fish = (root: CommandDoc): string => {
  const lines = ["# sixchat completion for fish: sixchat --completions fish | source", "complete -c sixchat -f"]
  for (const doc of allCommands(root)) {
    // The command is the last word of its path and no word of its subcommands has been seen yet.
    const seen =
      doc.path.length === 0
        ? "__fish_use_subcommand"
        : `__fish_seen_subcommand_from ${doc.path.at(-1)}; and not __fish_seen_subcommand_from ${doc.subcommands.map((c) => c.name).join(" ") || "--"}`
    for (const c of doc.subcommands)
      lines.push(`complete -c sixchat -n '${seen}' -a ${c.name} -d ${JSON.stringify(c.description.slice(0, 60))}`)
    for (const o of doc.options) {
      const long = o.names.find((n) => n.startsWith("--"))?.slice(2)
      if (long === undefined) continue
      const words = valueWords(o.placeholder)
      const value =
        words === undefined ? "" : words === "@files" ? " -r -F" : words === "" ? " -r" : ` -r -a '${words}'`
      lines.push(`complete -c sixchat -n '${seen}' -l ${long}${value} -d ${JSON.stringify(o.description.slice(0, 60))}`)
    }
  }
  return `${lines.join("\n")}\n`
}

export const completionScript = (root: CommandDoc, shell: Shell): string =>
  shell === "fish"
    ? fish(root)
    : shell === "zsh"
      ? `# sixchat completion for zsh: source <(sixchat --completions zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash(root)}`
      : bash(root)
