import { SagaRegistry } from '../engine/saga-registry.ts'
import { tourBookingSaga } from './tour-booking/tour-booking.saga.ts'

/** Every saga type this orchestrator runs. Adding a saga: define it, register it here. */
export function createSagaRegistry(): SagaRegistry {
  return new SagaRegistry().register(tourBookingSaga)
}
