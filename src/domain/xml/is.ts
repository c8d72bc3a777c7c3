/**
 * Membership tests for the leaf schemas of wire messages (brands, patterns, ranges, literals), equal to
 * `Schema.is` but without its machinery: `Schema.is` wraps every check in `ParseResult` values and an
 * options object (~300 ns for a `Handle`), which the hand-written answer readers would pay some ten times
 * per answer. The test compiles the schema's own AST, so the predicates are the schema's own and cannot
 * drift from it: refinements call their own filters, in the same order, after their `from` side.
 *
 * Only strings, numbers, bigints, literals, unions, refinements and the `Uint8ArrayFromSelf` declaration
 * (its predicate is `Predicate.isUint8Array`) are compiled; any other node (another declaration, a
 * struct) is left to `Schema.is` itself.
 */
import { Option, Predicate, Schema, SchemaAST } from "effect"

const OPTIONS: SchemaAST.ParseOptions = { exact: true }
const UINT8ARRAY = Schema.Uint8ArrayFromSelf.ast

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
    case "Declaration":
      // `Uint8ArrayFromSelf` (every DER, key and digest of a message) is `Predicate.isUint8Array`: its own
      // test, without the declaration's `ParseResult` round (~10 % of decoding a <LookupResult>, issue 15).
      return ast === UINT8ARRAY ? (u) => Predicate.isUint8Array(u) : Schema.is(Schema.make(ast))
    default:
      return Schema.is(Schema.make(ast))
  }
}

/** `Schema.is(schema)`, compiled once (see above). */
export const isOf = <A, I>(schema: Schema.Schema<A, I, never>): ((u: unknown) => u is A) =>
  compile(SchemaAST.typeAST(schema.ast)) as (u: unknown) => u is A
