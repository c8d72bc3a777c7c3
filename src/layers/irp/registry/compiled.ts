/**
 * The registry's own `@effect/sql` statements for the synchronous paths (`SyncReads`, `SyncWrites`):
 * one text for both paths, compiled once. The statement is compiled with sentinel arguments, which also
 * says which bound parameter each argument becomes; a parameter that is no argument's sentinel is a
 * constant of the statement and stays as compiled.
 */
import type { Statement } from "@effect/sql/Statement"

/** Distinct values no caller passes, of each argument's type. */
const sentinel = (kind: "text" | "number" | "bigint", i: number): string | number | bigint =>
  kind === "text" ? `\u0000sentinel-${i}` : kind === "number" ? -424_240_000 - i : BigInt(-424_240_000 - i)

export interface Compiled<Args extends ReadonlyArray<unknown>> {
  readonly text: string
  readonly params: (...args: Args) => ReadonlyArray<unknown>
}

/**
 * `statement`'s text and a function from its arguments to its bound parameters. `kinds` names each
 * argument's type (text, a number, a bigint); the arguments are bound as given. `undefined` when an
 * argument does not come out of the compiler as it went in (a statement or compiler change): the
 * caller then keeps its effectful path rather than bind a value wrongly.
 */
export const compiledOnce = <Args extends ReadonlyArray<unknown>>(
  statement: (...args: Args) => Statement<unknown>,
  kinds: { readonly [K in keyof Args]: "text" | "number" | "bigint" }
): Compiled<Args> | undefined => {
  const sentinels = (kinds as ReadonlyArray<"text" | "number" | "bigint">).map(sentinel)
  const [text, compiled] = statement(...(sentinels as unknown as Args)).compile()
  const slots = compiled.map((value) => sentinels.indexOf(value as never))
  if (sentinels.some((_, i) => !slots.includes(i))) return undefined
  // The registry's statements bind their arguments once each, in order: the arguments are the parameters.
  const inOrder = slots.length === sentinels.length && slots.every((slot, i) => slot === i)
  return {
    text,
    params: inOrder ? (...args) => args : (...args) => slots.map((slot, i) => (slot < 0 ? compiled[i] : args[slot]))
  }
}
