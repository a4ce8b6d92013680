import { SagaRegistry } from '../engine/saga-registry.ts'
import { bookingCancellationSaga } from './booking-cancellation/booking-cancellation.saga.ts'
import { hotelReservationSaga } from './hotel-reservation/hotel-reservation.saga.ts'
import { tourBookingSaga } from './tour-booking/tour-booking.saga.ts'

/** Every saga type this orchestrator runs. Adding a saga: define it, register it here. */
export function createSagaRegistry(): SagaRegistry {
  return new SagaRegistry()
    .register(tourBookingSaga)
    .register(bookingCancellationSaga)
    .register(hotelReservationSaga)
}
