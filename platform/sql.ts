import type pg from 'pg'

// SQL as a tagged template: each `${value}` becomes a numbered parameter at its place, so a
// statement reads in one piece with its values where they are used (never spliced into the
// text). `sql.identifier` and `sql.join` cover the rest: a fixed name and optional fragments.
//
//   const q = sql`UPDATE sagas SET status = ${status} WHERE id = ${id}`
//   await pool.query(q.named('saga-set-status'))

const IDENTIFIER = Symbol('sql.identifier')

export interface Fragment {
  readonly strings: readonly string[]
  readonly values: readonly unknown[]
}

export class Sql implements Fragment {
  constructor(readonly strings: readonly string[], readonly values: readonly unknown[]) {}

  /** The statement as pg takes it: `$1 … $n` for the values, in order. */
  get text(): string {
    return this.strings.reduce((text, part, index) => `${text}$${index}${part}`)
  }

  /** As a named prepared statement: parsed and planned once per connection. */
  named(name: string): pg.QueryConfig {
    return { name, text: this.text, values: [...this.values] }
  }

  query(): pg.QueryConfig {
    return { text: this.text, values: [...this.values] }
  }
}

type Value = unknown

function build(strings: readonly string[], values: readonly Value[]): Sql {
  const parts: string[] = [strings[0]!]
  const flat: unknown[] = []
  const append = (text: string) => { parts[parts.length - 1] += text }
  values.forEach((value, index) => {
    const next = strings[index + 1]!
    if (value instanceof Sql) {
      // Inline a fragment: its text joins ours, its values join ours in order.
      append(value.strings[0]!)
      value.values.forEach((inner, i) => {
        flat.push(inner)
        parts.push(value.strings[i + 1]!)
      })
      append(next)
    } else if (typeof value === 'object' && value !== null && IDENTIFIER in value) {
      append((value as { [IDENTIFIER]: string })[IDENTIFIER] + next)
    } else {
      flat.push(value)
      parts.push(next)
    }
  })
  return new Sql(parts, flat)
}

export function sql(strings: TemplateStringsArray, ...values: Value[]): Sql {
  return build(strings, values)
}

/** A fixed identifier (a schema-qualified table): quoted, and never user input. */
sql.identifier = (...parts: string[]): { [IDENTIFIER]: string } => {
  for (const part of parts) if (!/^[a-z_][a-z0-9_]*$/.test(part)) throw new Error(`Not an identifier: "${part}"`)
  return { [IDENTIFIER]: parts.map((part) => `"${part}"`).join('.') }
}

/** Fragments joined by `separator` (e.g. conditions by ' AND '); empty when there are none. */
sql.join = (fragments: readonly Sql[], separator: string): Sql => {
  if (!fragments.length) return new Sql([''], [])
  return fragments.slice(1).reduce((joined, fragment) => build(['', separator, ''], [joined, fragment]), fragments[0]!)
}

/** A piece of SQL with no values. */
sql.raw = (text: string): Sql => new Sql([text], [])
