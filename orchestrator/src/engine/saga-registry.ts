import type { SagaDefinition } from './saga-definition.ts'

/** The saga types an orchestrator can run. Adding a saga is registering its definition. */
export class SagaRegistry {
  // A Map, not a plain object: a saga type named "__proto__" must not reach the prototype.
  readonly #definitions = new Map<string, SagaDefinition<any>>()

  register(definition: SagaDefinition<any>): this {
    if (this.#definitions.has(definition.type)) throw new Error(`Saga type "${definition.type}" is registered already`)
    this.#definitions.set(definition.type, definition)
    return this
  }

  get(type: string): SagaDefinition<any> {
    const definition = this.#definitions.get(type)
    if (!definition) throw new Error(`Unknown saga type "${type}"`)
    return definition
  }

  has(type: string): boolean {
    return this.#definitions.has(type)
  }

  types(): string[] {
    return [...this.#definitions.keys()]
  }
}
