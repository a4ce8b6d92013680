import type { Config } from '../../../platform/config.ts'
import type { SagaDefinition } from '../engine/saga-definition.ts'
import { SagaRegistry } from '../engine/saga-registry.ts'
import { bookingCancellationSaga } from './booking-cancellation/booking-cancellation.saga.ts'
import { hotelReservationSaga } from './hotel-reservation/hotel-reservation.saga.ts'
import { tourBookingSaga } from './tour-booking/tour-booking.saga.ts'

/** The deadlines the configuration sets, by saga type. */
export type SagaDeadlines = Pick<Config, 'TOUR_BOOKING_DEADLINE_MS' | 'BOOKING_CANCELLATION_DEADLINE_MS' | 'HOTEL_RESERVATION_DEADLINE_MS'>

const withDeadline = <Input>(definition: SagaDefinition<Input>, deadlineMs: number | undefined): SagaDefinition<Input> =>
  deadlineMs === undefined ? definition : { ...definition, deadlineMs }

/** Every saga type this orchestrator runs. Adding a saga: define it, register it here. */
export function createSagaRegistry(deadlines: Partial<SagaDeadlines> = {}): SagaRegistry {
  return new SagaRegistry()
    .register(withDeadline(tourBookingSaga, deadlines.TOUR_BOOKING_DEADLINE_MS))
    .register(withDeadline(bookingCancellationSaga, deadlines.BOOKING_CANCELLATION_DEADLINE_MS))
    .register(withDeadline(hotelReservationSaga, deadlines.HOTEL_RESERVATION_DEADLINE_MS))
}
