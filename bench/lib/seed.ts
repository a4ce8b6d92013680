import { createHash } from 'node:crypto'
import type pg from 'pg'

// Data the scale section needs, written straight into the orchestrator's tables with SQL.

/** Marks bulk-inserted sagas (request_fingerprint): the runs leave them in place, so reruns are fast. */
export const SEED_MARK = 'bench-seed'

/** Id of bulk-inserted saga number `k`: md5('bench-seed-<k>') as a uuid, as the SQL computes it. */
export function seedId(k: number): string {
  const hex = createHash('md5').update(`bench-seed-${k}`).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * Rows shaped like the ones the engine writes, spread like a year of traffic: 70% tour
 * bookings, 15% cancellations, 15% hotel stays; 91.5% COMPLETED, 8% FAILED, 0.3%
 * COMPENSATION_FAILED, 0.2% RUNNING (owned by a live-looking owner whose lease never runs
 * out, so no recovery pass ever picks them up); 50,000 users; one saga every ~31.5 s from
 * 2025-01-01 (a million span a year); input, results and a 6-step timeline as JSON (~1.3 kB a
 * row). No saga_events rows: nothing measured here reads them.
 */
const SEED_SQL = `
WITH base AS (
  SELECT i,
         CASE WHEN rt < 700 THEN 'tour-booking' WHEN rt < 850 THEN 'booking-cancellation' ELSE 'hotel-reservation' END AS type,
         CASE WHEN rs < 9150 THEN 'COMPLETED' WHEN rs < 9950 THEN 'FAILED' WHEN rs < 9980 THEN 'COMPENSATION_FAILED' ELSE 'RUNNING' END AS status,
         'user-' || ru AS user_id,
         md5('booking-' || i)::uuid::text AS booking_ref,
         md5('reservation-' || i)::uuid::text AS reservation_ref,
         md5('payment-' || i)::uuid::text AS payment_ref,
         md5('tour-' || (i % 5000))::uuid::text AS tour_ref,
         timestamptz '2025-01-01 00:00:00+00' + make_interval(secs => i * 31.536 + rj) AS created_at
    FROM generate_series($1::int, $2::int) AS i,
         LATERAL (SELECT abs(hashtext('t' || i)::bigint) % 1000 AS rt, abs(hashtext('s' || i)::bigint) % 10000 AS rs,
                         abs(hashtext('u' || i)::bigint) % 50000 AS ru, abs(hashtext('j' || i)::bigint) % 30 AS rj) AS r
), shaped AS (
  SELECT b.*,
         CASE b.type
           WHEN 'tour-booking' THEN jsonb_build_object('tourId', tour_ref, 'userId', user_id, 'numberOfSpots', 1 + i % 4, 'paymentMethod', 'pm_card_visa')
           WHEN 'booking-cancellation' THEN jsonb_build_object('bookingId', booking_ref, 'userId', user_id, 'reason', 'change of plans')
           ELSE jsonb_build_object('hotelId', tour_ref, 'roomType', 'double', 'userId', user_id, 'checkIn', (created_at + interval '30 days')::date,
                                   'checkOut', (created_at + interval '33 days')::date, 'guests', 2, 'paymentMethod', 'pm_card_visa')
         END AS input,
         jsonb_build_object('results', jsonb_build_object(
           'reserve', jsonb_build_object('reservationId', reservation_ref, 'amount', 120 + i % 300, 'currency', 'EUR',
                                         'tour', jsonb_build_object('name', 'Tour ' || (i % 5000), 'date', (created_at + interval '40 days')::date,
                                                                    'cancellationPolicy', jsonb_build_object('minDays', 7, 'feePercent', 20))),
           'create', jsonb_build_object('bookingId', booking_ref, 'status', 'PENDING'),
           'pay', jsonb_build_object('paymentId', payment_ref, 'status', 'SUCCEEDED', 'amount', 120 + i % 300, 'currency', 'EUR'),
           'confirm', jsonb_build_object('bookingId', booking_ref, 'status', 'CONFIRMED'),
           'points', jsonb_build_object('pointsAdded', 120 + i % 300),
           'notify', jsonb_build_object('notificationId', md5('notification-' || i)::uuid))) AS data,
         (SELECT jsonb_agg(jsonb_build_object('name', name, 'phase', 'forward', 'status', 'SUCCEEDED', 'attempts', 1,
                                              'startedAt', created_at + make_interval(secs => n * 0.4), 'finishedAt', created_at + make_interval(secs => n * 0.4 + 0.3)))
            FROM unnest(ARRAY['reserve', 'create', 'pay', 'confirm', 'points', 'notify']) WITH ORDINALITY AS s(name, n)) AS steps
    FROM base AS b
)
INSERT INTO orchestrator.sagas (id, type, status, state, phase, cursor, pivot_passed, input, data, steps, error, version,
                                start_key, request_fingerprint, user_id, booking_id, reservation_id, owner_id, lease_epoch,
                                lease_expires_at, deadline_at, created_at, updated_at, completed_at)
SELECT md5('${SEED_MARK}-' || i)::uuid, type, status,
       CASE status WHEN 'COMPLETED' THEN 'COMPLETED' WHEN 'FAILED' THEN 'COMPENSATED' WHEN 'RUNNING' THEN 'CREATED' ELSE 'RESERVED' END,
       CASE WHEN status IN ('COMPLETED', 'RUNNING') THEN 'forward' ELSE 'compensation' END,
       CASE status WHEN 'COMPLETED' THEN 6 WHEN 'FAILED' THEN -1 WHEN 'RUNNING' THEN 2 ELSE 0 END,
       status = 'COMPLETED', input, data, steps,
       CASE WHEN status IN ('FAILED', 'COMPENSATION_FAILED') THEN jsonb_build_object('code', 'PAYMENT_DECLINED', 'message', 'Your card was declined.',
                                                                                    'step', 'pay', 'status', 402, 'participant', 'payment') END,
       CASE status WHEN 'COMPLETED' THEN 7 WHEN 'RUNNING' THEN 2 ELSE 6 END,
       'seed-client:' || md5('key-' || i), '${SEED_MARK}', user_id,
       CASE WHEN type <> 'hotel-reservation' THEN booking_ref END, reservation_ref,
       CASE WHEN status = 'RUNNING' THEN 'bench-seed-live-owner' END, 1,
       CASE WHEN status = 'RUNNING' THEN 'infinity'::timestamptz END,
       created_at + interval '2 minutes', created_at, created_at + interval '3 seconds',
       CASE WHEN status IN ('COMPLETED', 'FAILED') THEN created_at + interval '3 seconds' END
  FROM shaped
ON CONFLICT DO NOTHING`

/** Bulk-inserted sagas already present. */
export async function countSeeded(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM orchestrator.sagas WHERE request_fingerprint = $1`, [SEED_MARK])
  return Number(rows[0]!.n)
}

/**
 * Makes sure seeds 0..target-1 exist (batches of 50,000, one statement each, so an interrupted
 * seeding resumes where it stopped), then VACUUM ANALYZE so plans and index-only scans see
 * the table as it is. Returns how many rows it inserted.
 */
export async function ensureSeeded(client: pg.Client, target: number, log: (line: string) => void): Promise<number> {
  const present = await countSeeded(client)
  if (present >= target) return 0
  const batch = 50_000
  for (let from = present; from < target; from += batch) {
    const to = Math.min(target, from + batch) - 1
    await client.query(SEED_SQL, [from, to])
    log(`  seeded ${to + 1} / ${target} sagas`)
  }
  await client.query('VACUUM (ANALYZE) orchestrator.sagas')
  return target - present
}

/**
 * Removes what earlier runs drove (everything but the bulk-inserted sagas) so each run starts
 * from the same table; the participants' own rows are left alone.
 */
export async function removeRunData(client: pg.Client): Promise<number> {
  await client.query('TRUNCATE orchestrator.saga_events')
  // The bench saga's completions' domain events (the bench Redis is emptied at the end too).
  await client.query('TRUNCATE orchestrator.outbox')
  const deleted = await client.query(`DELETE FROM orchestrator.sagas WHERE request_fingerprint IS DISTINCT FROM $1`, [SEED_MARK])
  if (deleted.rowCount) await client.query('VACUUM (ANALYZE) orchestrator.sagas, orchestrator.saga_events')
  return deleted.rowCount ?? 0
}

/**
 * Sagas whose owner died right after creating them: RUNNING, at step 0, leased to an owner
 * that stopped renewing a minute ago (with their SAGA_STARTED event, as createSaga writes it).
 */
export async function insertOrphans(client: pg.Client, runId: string, count: number, sagaType: string): Promise<void> {
  await client.query(`
    WITH inserted AS (
      INSERT INTO orchestrator.sagas (id, type, status, state, input, data, steps, version, request_fingerprint, user_id,
                                      owner_id, lease_epoch, lease_expires_at, deadline_at, created_at, updated_at)
      SELECT gen_random_uuid(), $3, 'RUNNING', 'STARTED', jsonb_build_object('run', $1::text, 'n', i), '{"results":{}}', '[]', 0,
             'orphan', $1, 'bench-dead-owner', 1, now() - interval '1 minute', now() + interval '1 hour',
             now() - interval '2 minutes', now() - interval '2 minutes'
        FROM generate_series(1, $2::int) AS i
      RETURNING id
    )
    INSERT INTO orchestrator.saga_events (saga_id, version, type, status, state, created_at)
    SELECT id, 0, 'SAGA_STARTED', 'RUNNING', 'STARTED', now() - interval '2 minutes' FROM inserted`, [runId, count, sagaType])
}
