-- A command's key claimed in one round trip: its transaction-scoped advisory lock and, read
-- after the lock, its record (participants/shared/idempotency.plugin.ts). In one plain
-- statement the read would use the statement's snapshot, taken before the lock: a request
-- arriving as another one under the key commits could get the lock and miss that commit's
-- record. A VOLATILE function's statements each take a snapshot of their own (READ
-- COMMITTED), so the read here sees every record committed before the lock was granted.
-- The lock's key is the one the services took before this function: "<schema>\n<caller>\n<key>".
-- One function in each participant schema, over that schema's idempotency_keys.
DO $migration$
DECLARE
  service_schema text;
BEGIN
  FOREACH service_schema IN ARRAY ARRAY['tour_catalog', 'booking', 'payment', 'notification', 'hotel', 'loyalty', 'analytics'] LOOP
    EXECUTE format($function$
      CREATE FUNCTION %1$I.claim_idempotency_key(p_caller text, p_key text)
      RETURNS TABLE (locked boolean, fenced boolean, fingerprint text, status integer, body jsonb)
      LANGUAGE plpgsql VOLATILE AS $body$
      BEGIN
        locked := pg_try_advisory_xact_lock(hashtextextended(%2$L || E'\n' || p_caller || E'\n' || p_key, 0));
        fenced := false;
        IF locked THEN
          SELECT k.fenced_at IS NOT NULL, k.fingerprint, k.status, k.body INTO fenced, fingerprint, status, body
            FROM %1$I.idempotency_keys k WHERE k.caller = p_caller AND k.key = p_key;
          fenced := coalesce(fenced, false);
        END IF;
        RETURN NEXT;
      END
      $body$
    $function$, service_schema, service_schema);
  END LOOP;
END
$migration$;
