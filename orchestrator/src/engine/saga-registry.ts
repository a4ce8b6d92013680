import type { DefinitionRef } from './ports.ts'
import type { SagaDefinition } from './saga-definition.ts'

/**
 * The version of sagas stored before versions were recorded: they run on the current
 * definition, which is the one they started on (no definition changed before versions existed).
 */
export const LEGACY_VERSION = 'legacy'

/**
 * The saga types an orchestrator can run. Adding a saga is registering its definition.
 *
 * Each type has one current definition, which new sagas start on, and may keep older versions
 * that still have unfinished sagas: a saga finishes on the version it started on, so a deploy
 * that adds, removes or reorders a step never moves an in-flight saga onto another step.
 */
export class SagaRegistry {
  // Maps, not plain objects: a saga type named "__proto__" must not reach the prototype.
  readonly #current = new Map<string, SagaDefinition<any>>()
  readonly #versions = new Map<string, Map<string, SagaDefinition<any>>>()

  /** Registers the current definition of a type. */
  register(definition: SagaDefinition<any>): this {
    if (this.#current.has(definition.type)) throw new Error(`Saga type "${definition.type}" is registered already`)
    this.#current.set(definition.type, definition)
    return this.#add(definition)
  }

  /** Keeps an older version of a type so that its unfinished sagas finish on it. */
  registerPrevious(definition: SagaDefinition<any>): this {
    return this.#add(definition)
  }

  #add(definition: SagaDefinition<any>): this {
    let versions = this.#versions.get(definition.type)
    if (!versions) this.#versions.set(definition.type, versions = new Map())
    if (versions.has(definition.version)) throw new Error(`Saga type "${definition.type}" version ${definition.version} is registered already`)
    versions.set(definition.version, definition)
    return this
  }

  /** The definition new sagas of this type start on. */
  current(type: string): SagaDefinition<any> {
    const definition = this.#current.get(type)
    if (!definition) throw new Error(`Unknown saga type "${type}"`)
    return definition
  }

  /** The definition a saga started on; undefined when this process does not have that version. */
  find(type: string, version: string): SagaDefinition<any> | undefined {
    if (version === LEGACY_VERSION) return this.#current.get(type)
    return this.#versions.get(type)?.get(version)
  }

  /** Like find, for callers that checked `has` (throws otherwise). */
  get(type: string, version: string): SagaDefinition<any> {
    const definition = this.find(type, version)
    if (!definition) throw new Error(`Saga type "${type}" version ${version} is not registered here`)
    return definition
  }

  has(type: string, version?: string): boolean {
    return version === undefined ? this.#current.has(type) : this.find(type, version) !== undefined
  }

  /** Types new sagas can start on. */
  types(): string[] {
    return [...this.#current.keys()]
  }

  /** Every (type, version) this registry can run. */
  definitions(): DefinitionRef[] {
    return [...this.#versions.values()].flatMap((versions) => [...versions.values()].map(({ type, version }) => ({ type, version })))
  }
}
