/**
 * What is wrong with a control request's `params`, in one sentence (issue 10, section 6;
 * docs/CONTROL.md: unknown parameter names are `-32602`). Pure: the dispatcher passes the names a
 * method takes and the decoder's issues; nothing here prints a Schema's type.
 */

/** What a good value of each parameter looks like, for the sentence (not the Schema's type). */
const HINTS: Readonly<Record<string, string>> = {
  peer: "a handle in lower case, such as bob@example.org",
  body: "text XML can carry, at most 32,768 characters",
  path: "an absolute path (the agent runs in another directory)",
  id: "an id as history or transfers show it",
  limit: "a whole number from 1 to 1000",
  before: "{at, seq} of the oldest message already shown (at as history gives it: an RFC 3339 time)",
  state: '"active" or "paused"',
  subscription: "the number subscribe returned on this connection"
}

const quoted = (names: ReadonlyArray<string>) => names.map((n) => `"${n}"`).join(", ")

/** One sentence naming the first unknown parameter, or `undefined` when every name is known. */
export const unknownParameter = (
  method: string,
  allowed: ReadonlyArray<string>,
  given: ReadonlyArray<string>
): { readonly name: string; readonly message: string } | undefined => {
  const name = given.find((k) => !allowed.includes(k))
  if (name === undefined) return undefined
  return {
    name,
    message:
      allowed.length === 0
        ? `${method} takes no parameters, but got "${name}".`
        : `${method} has no parameter "${name}": it takes ${quoted(allowed)}.`
  }
}

/** One issue of the decoder: where (`path`) and of which kind (`Missing`, `Unexpected`, …). */
export interface ParamIssue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly tag: string
}

/** One sentence for the first decoding issue: which parameter, and what a good value looks like. */
export const paramSentence = (method: string, issue: ParamIssue, given: Readonly<Record<string, unknown>>): string => {
  const top = issue.path.length === 0 ? undefined : String(issue.path[0])
  if (top === undefined) return `${method}: params must be an object of named parameters.`
  const name = issue.path.map(String).join(".")
  if (issue.tag === "Missing") return `${method} needs the parameter "${name}": ${HINTS[top] ?? "see docs/CONTROL.md"}.`
  const value = JSON.stringify(given[top]) ?? "undefined"
  const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value
  return `${method}: the parameter "${name}" must be ${HINTS[top] ?? "as docs/CONTROL.md says"}, not ${shown}.`
}
