// Command and read schemas are assembled from the vocabulary's fragments (platform/vocabulary.ts)
// with `object`, and their TypeScript types are read off the schema with `Infer`: one
// definition of each request shape, so a schema and the type its handler sees cannot drift.

/** A JSON-schema fragment, as the vocabulary writes them (`as const`). */
export type Schema = { readonly type?: string; readonly [keyword: string]: unknown }

/** An object schema: named properties, some of them required. */
export interface ObjectSchema {
  readonly type: 'object'
  readonly properties: Readonly<Record<string, Schema>>
  readonly required?: readonly string[]
  readonly additionalProperties?: boolean
}

type Simplify<T> = { [K in keyof T]: T[K] } & {}

type ObjectOf<P, R extends PropertyKey> = Simplify<
  { -readonly [K in keyof P as K extends R ? K : never]: Infer<P[K]> } &
  { -readonly [K in keyof P as K extends R ? never : K]?: Infer<P[K]> }
>

/** The value a schema fragment accepts, as a TypeScript type (the subset of JSON schema used here). */
export type Infer<S> =
  S extends { readonly enum: readonly (infer E)[] } ? E
  : S extends { readonly type: 'string' } ? string
  : S extends { readonly type: 'integer' | 'number' } ? number
  : S extends { readonly type: 'boolean' } ? boolean
  : S extends { readonly type: 'array'; readonly items: infer I } ? Infer<I>[]
  : S extends { readonly type: 'object'; readonly properties: infer P; readonly required: readonly (infer R extends PropertyKey)[] } ? ObjectOf<P, R>
  : S extends { readonly type: 'object'; readonly properties: infer P } ? ObjectOf<P, never>
  : S extends { readonly type: 'object' } ? Record<string, unknown>
  : unknown

/**
 * An object with exactly these properties (any other is refused), each required unless named
 * in `optional`: `object({ spots, currency }, { optional: ['currency'] })`.
 */
export function object<const P extends Record<string, Schema>, const O extends keyof P & string = never>(
  properties: P,
  options: { optional?: readonly O[] } = {},
): { type: 'object'; additionalProperties: false; required: Exclude<keyof P & string, O>[]; properties: P } {
  const optional = new Set<string>(options.optional ?? [])
  const required = Object.keys(properties).filter((name) => !optional.has(name)) as Exclude<keyof P & string, O>[]
  return { type: 'object', additionalProperties: false, required, properties }
}
