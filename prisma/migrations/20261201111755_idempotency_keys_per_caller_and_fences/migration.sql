-- Idempotency keys are scoped by the authenticated caller (the name its service token is
-- listed under) instead of by method, route and the X-Client-Id header the caller chose;
-- method and route move into the fingerprint, so the same key on another route is refused as
-- reused. A row is now either a stored answer or a fence (fenced_at set, no answer).
--
-- Rows already stored keep answering: the old scope was "<METHOD> <route>|<client id>", and
-- the orchestrator's client id is the caller its token names ("orchestrator"). Where one
-- caller used one key on several routes only the first record stays: a later command under
-- that key now finds it and is refused as reused, so none is ever applied twice.
-- (Plain statements, one table after the other: the schema engine runs a script statement by
-- statement, so a DO block cannot be used.)

-- tour_catalog
ALTER TABLE "tour_catalog"."idempotency_keys"
  ADD COLUMN "caller" TEXT,
  ADD COLUMN "fenced_at" TIMESTAMPTZ(3),
  ALTER COLUMN "fingerprint" DROP NOT NULL,
  ALTER COLUMN "status" DROP NOT NULL,
  ALTER COLUMN "body" DROP NOT NULL;
UPDATE "tour_catalog"."idempotency_keys"
   SET "caller" = substr("scope", strpos("scope", '|') + 1),
       "fingerprint" = split_part("scope", '|', 1) || ' ' || "fingerprint";
DELETE FROM "tour_catalog"."idempotency_keys" AS later USING "tour_catalog"."idempotency_keys" AS earlier
 WHERE later."caller" = earlier."caller" AND later."key" = earlier."key"
   AND (later."created_at", later."scope") > (earlier."created_at", earlier."scope");
ALTER TABLE "tour_catalog"."idempotency_keys"
  DROP CONSTRAINT "idempotency_keys_pkey",
  DROP COLUMN "scope",
  ALTER COLUMN "caller" SET NOT NULL,
  ADD CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("caller", "key");

-- booking
ALTER TABLE "booking"."idempotency_keys"
  ADD COLUMN "caller" TEXT,
  ADD COLUMN "fenced_at" TIMESTAMPTZ(3),
  ALTER COLUMN "fingerprint" DROP NOT NULL,
  ALTER COLUMN "status" DROP NOT NULL,
  ALTER COLUMN "body" DROP NOT NULL;
UPDATE "booking"."idempotency_keys"
   SET "caller" = substr("scope", strpos("scope", '|') + 1),
       "fingerprint" = split_part("scope", '|', 1) || ' ' || "fingerprint";
DELETE FROM "booking"."idempotency_keys" AS later USING "booking"."idempotency_keys" AS earlier
 WHERE later."caller" = earlier."caller" AND later."key" = earlier."key"
   AND (later."created_at", later."scope") > (earlier."created_at", earlier."scope");
ALTER TABLE "booking"."idempotency_keys"
  DROP CONSTRAINT "idempotency_keys_pkey",
  DROP COLUMN "scope",
  ALTER COLUMN "caller" SET NOT NULL,
  ADD CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("caller", "key");

-- payment
ALTER TABLE "payment"."idempotency_keys"
  ADD COLUMN "caller" TEXT,
  ADD COLUMN "fenced_at" TIMESTAMPTZ(3),
  ALTER COLUMN "fingerprint" DROP NOT NULL,
  ALTER COLUMN "status" DROP NOT NULL,
  ALTER COLUMN "body" DROP NOT NULL;
UPDATE "payment"."idempotency_keys"
   SET "caller" = substr("scope", strpos("scope", '|') + 1),
       "fingerprint" = split_part("scope", '|', 1) || ' ' || "fingerprint";
DELETE FROM "payment"."idempotency_keys" AS later USING "payment"."idempotency_keys" AS earlier
 WHERE later."caller" = earlier."caller" AND later."key" = earlier."key"
   AND (later."created_at", later."scope") > (earlier."created_at", earlier."scope");
ALTER TABLE "payment"."idempotency_keys"
  DROP CONSTRAINT "idempotency_keys_pkey",
  DROP COLUMN "scope",
  ALTER COLUMN "caller" SET NOT NULL,
  ADD CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("caller", "key");

-- notification
ALTER TABLE "notification"."idempotency_keys"
  ADD COLUMN "caller" TEXT,
  ADD COLUMN "fenced_at" TIMESTAMPTZ(3),
  ALTER COLUMN "fingerprint" DROP NOT NULL,
  ALTER COLUMN "status" DROP NOT NULL,
  ALTER COLUMN "body" DROP NOT NULL;
UPDATE "notification"."idempotency_keys"
   SET "caller" = substr("scope", strpos("scope", '|') + 1),
       "fingerprint" = split_part("scope", '|', 1) || ' ' || "fingerprint";
DELETE FROM "notification"."idempotency_keys" AS later USING "notification"."idempotency_keys" AS earlier
 WHERE later."caller" = earlier."caller" AND later."key" = earlier."key"
   AND (later."created_at", later."scope") > (earlier."created_at", earlier."scope");
ALTER TABLE "notification"."idempotency_keys"
  DROP CONSTRAINT "idempotency_keys_pkey",
  DROP COLUMN "scope",
  ALTER COLUMN "caller" SET NOT NULL,
  ADD CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("caller", "key");

-- hotel
ALTER TABLE "hotel"."idempotency_keys"
  ADD COLUMN "caller" TEXT,
  ADD COLUMN "fenced_at" TIMESTAMPTZ(3),
  ALTER COLUMN "fingerprint" DROP NOT NULL,
  ALTER COLUMN "status" DROP NOT NULL,
  ALTER COLUMN "body" DROP NOT NULL;
UPDATE "hotel"."idempotency_keys"
   SET "caller" = substr("scope", strpos("scope", '|') + 1),
       "fingerprint" = split_part("scope", '|', 1) || ' ' || "fingerprint";
DELETE FROM "hotel"."idempotency_keys" AS later USING "hotel"."idempotency_keys" AS earlier
 WHERE later."caller" = earlier."caller" AND later."key" = earlier."key"
   AND (later."created_at", later."scope") > (earlier."created_at", earlier."scope");
ALTER TABLE "hotel"."idempotency_keys"
  DROP CONSTRAINT "idempotency_keys_pkey",
  DROP COLUMN "scope",
  ALTER COLUMN "caller" SET NOT NULL,
  ADD CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("caller", "key");

-- loyalty
ALTER TABLE "loyalty"."idempotency_keys"
  ADD COLUMN "caller" TEXT,
  ADD COLUMN "fenced_at" TIMESTAMPTZ(3),
  ALTER COLUMN "fingerprint" DROP NOT NULL,
  ALTER COLUMN "status" DROP NOT NULL,
  ALTER COLUMN "body" DROP NOT NULL;
UPDATE "loyalty"."idempotency_keys"
   SET "caller" = substr("scope", strpos("scope", '|') + 1),
       "fingerprint" = split_part("scope", '|', 1) || ' ' || "fingerprint";
DELETE FROM "loyalty"."idempotency_keys" AS later USING "loyalty"."idempotency_keys" AS earlier
 WHERE later."caller" = earlier."caller" AND later."key" = earlier."key"
   AND (later."created_at", later."scope") > (earlier."created_at", earlier."scope");
ALTER TABLE "loyalty"."idempotency_keys"
  DROP CONSTRAINT "idempotency_keys_pkey",
  DROP COLUMN "scope",
  ALTER COLUMN "caller" SET NOT NULL,
  ADD CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("caller", "key");
