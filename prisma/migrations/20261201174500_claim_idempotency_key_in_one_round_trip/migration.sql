-- A command's key claimed in one round trip: its transaction-scoped advisory lock and, read
-- after the lock, its record (participants/shared/idempotency.plugin.ts). In one plain
-- statement the read would use the statement's snapshot, taken before the lock: a request
-- arriving as another one under the key commits could get the lock and miss that commit's
-- record. A VOLATILE function's statements each take a snapshot of their own (READ
-- COMMITTED), so the read here sees every record committed before the lock was granted.
-- The lock's key is the one the services took before this function: "<schema>\n<caller>\n<key>".

CREATE FUNCTION "tour_catalog".claim_idempotency_key(p_caller text, p_key text)
RETURNS TABLE (locked boolean, fenced boolean, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  locked := pg_try_advisory_xact_lock(hashtextextended('tour_catalog' || E'\n' || p_caller || E'\n' || p_key, 0));
  fenced := false;
  IF locked THEN
    SELECT k.fenced_at IS NOT NULL, k.fingerprint, k.status, k.body INTO fenced, fingerprint, status, body
      FROM "tour_catalog".idempotency_keys k WHERE k.caller = p_caller AND k.key = p_key;
    fenced := coalesce(fenced, false);
  END IF;
  RETURN NEXT;
END
$$;

CREATE FUNCTION "booking".claim_idempotency_key(p_caller text, p_key text)
RETURNS TABLE (locked boolean, fenced boolean, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  locked := pg_try_advisory_xact_lock(hashtextextended('booking' || E'\n' || p_caller || E'\n' || p_key, 0));
  fenced := false;
  IF locked THEN
    SELECT k.fenced_at IS NOT NULL, k.fingerprint, k.status, k.body INTO fenced, fingerprint, status, body
      FROM "booking".idempotency_keys k WHERE k.caller = p_caller AND k.key = p_key;
    fenced := coalesce(fenced, false);
  END IF;
  RETURN NEXT;
END
$$;

CREATE FUNCTION "payment".claim_idempotency_key(p_caller text, p_key text)
RETURNS TABLE (locked boolean, fenced boolean, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  locked := pg_try_advisory_xact_lock(hashtextextended('payment' || E'\n' || p_caller || E'\n' || p_key, 0));
  fenced := false;
  IF locked THEN
    SELECT k.fenced_at IS NOT NULL, k.fingerprint, k.status, k.body INTO fenced, fingerprint, status, body
      FROM "payment".idempotency_keys k WHERE k.caller = p_caller AND k.key = p_key;
    fenced := coalesce(fenced, false);
  END IF;
  RETURN NEXT;
END
$$;

CREATE FUNCTION "notification".claim_idempotency_key(p_caller text, p_key text)
RETURNS TABLE (locked boolean, fenced boolean, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  locked := pg_try_advisory_xact_lock(hashtextextended('notification' || E'\n' || p_caller || E'\n' || p_key, 0));
  fenced := false;
  IF locked THEN
    SELECT k.fenced_at IS NOT NULL, k.fingerprint, k.status, k.body INTO fenced, fingerprint, status, body
      FROM "notification".idempotency_keys k WHERE k.caller = p_caller AND k.key = p_key;
    fenced := coalesce(fenced, false);
  END IF;
  RETURN NEXT;
END
$$;

CREATE FUNCTION "hotel".claim_idempotency_key(p_caller text, p_key text)
RETURNS TABLE (locked boolean, fenced boolean, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  locked := pg_try_advisory_xact_lock(hashtextextended('hotel' || E'\n' || p_caller || E'\n' || p_key, 0));
  fenced := false;
  IF locked THEN
    SELECT k.fenced_at IS NOT NULL, k.fingerprint, k.status, k.body INTO fenced, fingerprint, status, body
      FROM "hotel".idempotency_keys k WHERE k.caller = p_caller AND k.key = p_key;
    fenced := coalesce(fenced, false);
  END IF;
  RETURN NEXT;
END
$$;

CREATE FUNCTION "loyalty".claim_idempotency_key(p_caller text, p_key text)
RETURNS TABLE (locked boolean, fenced boolean, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  locked := pg_try_advisory_xact_lock(hashtextextended('loyalty' || E'\n' || p_caller || E'\n' || p_key, 0));
  fenced := false;
  IF locked THEN
    SELECT k.fenced_at IS NOT NULL, k.fingerprint, k.status, k.body INTO fenced, fingerprint, status, body
      FROM "loyalty".idempotency_keys k WHERE k.caller = p_caller AND k.key = p_key;
    fenced := coalesce(fenced, false);
  END IF;
  RETURN NEXT;
END
$$;

CREATE FUNCTION "analytics".claim_idempotency_key(p_caller text, p_key text)
RETURNS TABLE (locked boolean, fenced boolean, fingerprint text, status integer, body jsonb)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  locked := pg_try_advisory_xact_lock(hashtextextended('analytics' || E'\n' || p_caller || E'\n' || p_key, 0));
  fenced := false;
  IF locked THEN
    SELECT k.fenced_at IS NOT NULL, k.fingerprint, k.status, k.body INTO fenced, fingerprint, status, body
      FROM "analytics".idempotency_keys k WHERE k.caller = p_caller AND k.key = p_key;
    fenced := coalesce(fenced, false);
  END IF;
  RETURN NEXT;
END
$$;
