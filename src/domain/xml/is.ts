/**
 * Membership tests for the leaf schemas of wire messages (brands, patterns, ranges, literals), equal to
 * `Schema.is` but without its machinery: `Schema.is` wraps every check in `ParseResult` values and an
 * options object (~300 ns for a `Handle`), which the hand-written answer readers would pay some ten times
 * per answer. The test compiles the schema's own AST, so the predicates are the schema's own and cannot
 * drift from it: refinements call their own filters, in the same order, after their `from` side.
 *
 * Only strings, numbers, bigints, literals, unions and refinements are compiled; any other node (a
 * declaration such as `Uint8ArrayFromSelf`, a struct) is left to `Schema.is` itself.
 */
import { Option, Schema, SchemaAST } from "effect"

const OPTIONS: SchemaAST.ParseOptions = { exact: true }

const compile = (ast: SchemaAST.AST): ((u: unknown) => boolean) => {
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string"
    case "NumberKeyword":
      return (u) => typeof u === "number"
    case "BigIntKeyword":
      return (u) => typeof u === "bigint"
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal
    }
    case "Union": {
      const members = ast.types.map(compile)
      return (u) => {
        for (const member of members) if (member(u)) return true
        return false
      }
    }
    case "Refinement": {
      const from = compile(ast.from)
      return (u) => from(u) && Option.isNone(ast.filter(u, OPTIONS, ast))
    }
    default:
      return Schema.is(Schema.make(ast))
  }
}

/** `Schema.is(schema)`, compiled once (see above). */
export const isOf = <A, I>(schema: Schema.Schema<A, I, never>): ((u: unknown) => u is A) =>
  compile(SchemaAST.typeAST(schema.ast)) as (u: unknown) => u is A
