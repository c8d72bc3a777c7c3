/**
 * The prepared statements of one better-sqlite3 connection (`SyncReads`, `SyncWrites`), kept by their
 * text, at most `max` of them (the oldest goes first): the registry runs a few dozen texts, so a caller
 * building ever-new texts cannot grow the cache without bound. `check` may refuse a statement once, when
 * it is first prepared (a read-only connection refuses writes).
 */
import type Sqlite from "better-sqlite3"

export const statementCache = (
  db: Sqlite.Database,
  max: number,
  check: (statement: Sqlite.Statement) => void = () => undefined
): ((sql: string) => Sqlite.Statement) => {
  const statements = new Map<string, Sqlite.Statement>()
  return (sql) => {
    let statement = statements.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      check(statement)
      if (statements.size >= max) statements.delete(statements.keys().next().value!)
      statements.set(sql, statement)
    }
    return statement
  }
}
