/**
 * A plain model of the command tree, read from @effect/cli's command descriptors (the same
 * definitions that parse the arguments): names, options, arguments, descriptions. Help, man pages,
 * completions and "did you mean" are all rendered from it, so they cannot drift from the parser.
 *
 * The descriptors' shapes are @effect/cli 0.77 internals (`_tag`ged nodes); they are read here only,
 * and the help snapshot tests fail if a version changes them.
 */
import type * as Command from "@effect/cli/Command"

export interface OptionDoc {
  /** `--home`, then aliases (`-h`). */
  readonly names: ReadonlyArray<string>
  /** `DIR`, `node|noble`; undefined for a flag. */
  readonly placeholder: string | undefined
  readonly description: string
  readonly optional: boolean
  readonly repeatable: boolean
}

export interface ArgDoc {
  readonly name: string
  readonly description: string
  readonly optional: boolean
  readonly repeatable: boolean
}

export interface CommandDoc {
  readonly name: string
  /** Words after `sixchat`: `["irp", "serve"]`. */
  readonly path: ReadonlyArray<string>
  readonly description: string
  readonly options: ReadonlyArray<OptionDoc>
  readonly args: ReadonlyArray<ArgDoc>
  readonly subcommands: ReadonlyArray<CommandDoc>
  /**
   * A group that also runs by itself (`sixchat outbox` lists, `sixchat outbox cancel ID` cancels):
   * one whose own definition has options or arguments. A bare group (`sixchat irp`) only shows its help.
   */
  readonly runnable?: boolean | undefined
}

// biome-ignore lint/suspicious/noExplicitAny: @effect/cli's internal descriptor nodes
type Node = any

const SPANS = new Set(["Text", "Highlight", "Strong", "Weak", "URI"])

/** The text of a HelpDoc or Span, paragraphs joined by a space, with @effect/cli's own boilerplate left out. */
export const docText = (doc: Node): string => {
  if (doc === undefined || doc === null) return ""
  switch (doc._tag) {
    case "Text":
      return doc.value
    case "Sequence":
      return [docText(doc.left), docText(doc.right)].filter((s) => s !== "").join(SPANS.has(doc.left?._tag) ? "" : " ")
    case "Header":
    case "Paragraph":
    case "Highlight":
    case "Strong":
    case "Weak":
    case "URI":
      return docText(doc.value)
    case "Enumeration":
      return doc.elements.map(docText).join(" ")
    default:
      return ""
  }
}

/** What an option's value is, by its name (the definitions do not say: @effect/cli would print `text`). */
const PLACEHOLDERS: Readonly<Record<string, string>> = {
  home: "DIR",
  dir: "DIR",
  listen: "HOST:PORT",
  address: "HOST:PORT",
  irp: "HOST[:PORT]",
  db: "URL",
  dns: "IP:PORT",
  "server-cert": "FILE",
  "server-key": "FILE",
  ttl: "DURATION",
  "outbox-expiry": "DURATION",
  "accept-files": "POLICY",
  key: "FILE",
  cert: "FILE",
  trust: "FILE",
  untrusted: "FILE",
  leaf: "FILE",
  staple: "FILE",
  at: "TIME",
  expect: "HANDLE",
  "server-name": "NAME"
}

/** Choices listed in the placeholder (`node|noble`) when there are at most this many. */
const INLINE_CHOICES = 3

const choicesOf = (single: Node): ReadonlyArray<string> =>
  single.primitiveType._tag === "Choice" ? single.primitiveType.alternatives.map(([name]: [string]) => name) : []

const placeholderOf = (single: Node): string | undefined => {
  const type = single.primitiveType
  if (type._tag === "Bool") return undefined
  const choices = choicesOf(single)
  if (choices.length > 0 && choices.length <= INLINE_CHOICES) return choices.join("|")
  if (single.pseudoName?._tag === "Some") return single.pseudoName.value
  if (type._tag === "Integer") return "N"
  return PLACEHOLDERS[single.name] ?? single.name.toUpperCase().replace(/-/g, "_")
}

const descriptionOf = (single: Node): string => {
  const text = docText(single.description)
  const choices = choicesOf(single)
  return choices.length > INLINE_CHOICES ? `${text} (one of: ${choices.join(", ")})` : text
}

const collectOptions = (node: Node, optional: boolean, repeatable: boolean, out: Array<OptionDoc>): undefined => {
  switch (node._tag) {
    case "Single":
      out.push({
        names: [node.fullName, ...node.aliases.map((a: string) => (a.length === 1 ? `-${a}` : `--${a}`))],
        placeholder: placeholderOf(node),
        description: descriptionOf(node),
        optional: optional || node.primitiveType._tag === "Bool",
        repeatable
      })
      return
    case "Both":
      collectOptions(node.left, optional, repeatable, out)
      collectOptions(node.right, optional, repeatable, out)
      return
    case "OrElse":
      collectOptions(node.left, true, repeatable, out)
      collectOptions(node.right, true, repeatable, out)
      return
    case "Map":
      return collectOptions(node.options, optional, repeatable, out)
    case "WithDefault":
    case "WithFallback":
      return collectOptions(node.options, true, repeatable, out)
    case "Variadic":
      return collectOptions(
        node.argumentOption,
        optional || node.min._tag !== "Some" || node.min.value === 0,
        true,
        out
      )
    case "KeyValueMap":
      return collectOptions(node.argumentOption, optional, true, out)
    default:
      return
  }
}

const collectArgs = (node: Node, optional: boolean, repeatable: boolean, out: Array<ArgDoc>): undefined => {
  switch (node._tag) {
    case "Single":
      out.push({
        name: (node.pseudoName?._tag === "Some" ? node.pseudoName.value : node.name).replace(/^<|>$/g, ""),
        description: docText(node.description),
        optional,
        repeatable
      })
      return
    case "Both":
      collectArgs(node.left, optional, repeatable, out)
      collectArgs(node.right, optional, repeatable, out)
      return
    case "Map":
      return collectArgs(node.args, optional, repeatable, out)
    case "WithDefault":
    case "WithFallbackConfig":
      return collectArgs(node.args, true, repeatable, out)
    case "Variadic":
      return collectArgs(node.args, optional || node.min._tag !== "Some" || node.min.value === 0, true, out)
    default:
      return
  }
}

const fromDescriptor = (node: Node, parentPath: ReadonlyArray<string>): CommandDoc => {
  switch (node._tag) {
    case "Map":
      return fromDescriptor(node.command, parentPath)
    case "Subcommands": {
      const parent = fromDescriptor(node.parent, parentPath)
      return {
        ...parent,
        runnable: parent.options.length > 0 || parent.args.length > 0,
        subcommands: node.children.map((child: Node) => fromDescriptor(child, parent.path))
      }
    }
    default: {
      const options: Array<OptionDoc> = []
      const args: Array<ArgDoc> = []
      if (node.options !== undefined) collectOptions(node.options, false, false, options)
      if (node.args !== undefined) collectArgs(node.args, false, false, args)
      const path = node.name === "sixchat" ? [] : [...parentPath, node.name]
      return { name: node.name, path, description: docText(node.description), options, args, subcommands: [] }
    }
  }
}

// biome-ignore lint/suspicious/noExplicitAny: any command of the tree
export const commandDoc = (command: Command.Command<any, any, any, any>): CommandDoc =>
  fromDescriptor((command as unknown as { descriptor: Node }).descriptor, [])

/** The command at `path` (words after `sixchat`), or the deepest one found and the first word that is not a command. */
export const find = (
  root: CommandDoc,
  words: ReadonlyArray<string>
): { readonly doc: CommandDoc; readonly unknown: string | undefined } => {
  let doc = root
  for (const word of words) {
    if (doc.subcommands.length === 0) break
    const next = doc.subcommands.find((c) => c.name === word)
    if (next === undefined) return { doc, unknown: word }
    doc = next
  }
  return { doc, unknown: undefined }
}
