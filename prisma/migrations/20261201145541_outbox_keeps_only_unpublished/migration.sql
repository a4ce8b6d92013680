-- The relay now deletes what it published (an outbox holds only what is still to go out).
-- Rows published before this migration leave first: with the column gone they would look
-- unpublished and go out again.
DELETE FROM "tour_catalog"."outbox" WHERE "published_at" IS NOT NULL;
DELETE FROM "booking"."outbox" WHERE "published_at" IS NOT NULL;
DELETE FROM "payment"."outbox" WHERE "published_at" IS NOT NULL;
DELETE FROM "notification"."outbox" WHERE "published_at" IS NOT NULL;
DELETE FROM "hotel"."outbox" WHERE "published_at" IS NOT NULL;
DELETE FROM "loyalty"."outbox" WHERE "published_at" IS NOT NULL;
DELETE FROM "analytics"."outbox" WHERE "published_at" IS NOT NULL;
DELETE FROM "orchestrator"."outbox" WHERE "published_at" IS NOT NULL;

-- DropIndex
DROP INDEX "tour_catalog"."outbox_published_at_id_idx";

-- DropIndex
DROP INDEX "booking"."outbox_published_at_id_idx";

-- DropIndex
DROP INDEX "payment"."outbox_published_at_id_idx";

-- DropIndex
DROP INDEX "notification"."outbox_published_at_id_idx";

-- DropIndex
DROP INDEX "hotel"."outbox_published_at_id_idx";

-- DropIndex
DROP INDEX "loyalty"."outbox_published_at_id_idx";

-- DropIndex
DROP INDEX "analytics"."outbox_published_at_id_idx";

-- DropIndex
DROP INDEX "orchestrator"."outbox_published_at_id_idx";

-- AlterTable
ALTER TABLE "tour_catalog"."outbox" DROP COLUMN "published_at";

-- AlterTable
ALTER TABLE "booking"."outbox" DROP COLUMN "published_at";

-- AlterTable
ALTER TABLE "payment"."outbox" DROP COLUMN "published_at";

-- AlterTable
ALTER TABLE "notification"."outbox" DROP COLUMN "published_at";

-- AlterTable
ALTER TABLE "hotel"."outbox" DROP COLUMN "published_at";

-- AlterTable
ALTER TABLE "loyalty"."outbox" DROP COLUMN "published_at";

-- AlterTable
ALTER TABLE "analytics"."outbox" DROP COLUMN "published_at";

-- AlterTable
ALTER TABLE "orchestrator"."outbox" DROP COLUMN "published_at";
