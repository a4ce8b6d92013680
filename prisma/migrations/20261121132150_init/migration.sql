-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "booking";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "hotel";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "loyalty";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "notification";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "orchestrator";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "payment";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "tour_catalog";

-- CreateTable
CREATE TABLE "orchestrator"."sagas" (
    "id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "phase" TEXT NOT NULL DEFAULT 'forward',
    "cursor" INTEGER NOT NULL DEFAULT 0,
    "pivot_passed" BOOLEAN NOT NULL DEFAULT false,
    "input" JSONB NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "steps" JSONB NOT NULL DEFAULT '[]',
    "error" JSONB,
    "compensation_error" JSONB,
    "version" INTEGER NOT NULL DEFAULT 0,
    "start_key" TEXT,
    "request_fingerprint" TEXT,
    "business_key" TEXT,
    "user_id" TEXT,
    "booking_id" TEXT,
    "reservation_id" TEXT,
    "owner_id" TEXT,
    "lease_epoch" INTEGER NOT NULL DEFAULT 0,
    "lease_expires_at" TIMESTAMPTZ(3),
    "abort_requested" BOOLEAN NOT NULL DEFAULT false,
    "deadline_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "sagas_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "orchestrator"."saga_events" (
    "id" BIGSERIAL NOT NULL,
    "saga_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "step" TEXT,
    "phase" TEXT,
    "detail" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "saga_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tour_catalog"."tours" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "date" DATE NOT NULL,
    "capacity" INTEGER NOT NULL,
    "available_spots" INTEGER NOT NULL,
    "price_minor" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "cancellation_min_days" INTEGER NOT NULL,
    "cancellation_fee_percent" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "tours_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tour_catalog"."reservations" (
    "id" UUID NOT NULL,
    "tour_id" UUID NOT NULL,
    "spots" INTEGER NOT NULL,
    "amount_minor" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "released_at" TIMESTAMPTZ(3),

    CONSTRAINT "reservations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "tour_catalog"."idempotency_keys" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "body" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateTable
CREATE TABLE "booking"."bookings" (
    "id" UUID NOT NULL,
    "reservation_id" UUID NOT NULL,
    "tour_id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "number_of_spots" INTEGER NOT NULL,
    "total_price_minor" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "tour_date" DATE NOT NULL,
    "cancellation_min_days" INTEGER NOT NULL,
    "cancellation_fee_percent" INTEGER NOT NULL,
    "payment_id" TEXT,
    "cancelled_from" TEXT,
    "refund_minor" INTEGER,
    "cancellation_reason" TEXT,
    "cancelled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bookings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "booking"."idempotency_keys" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "body" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateTable
CREATE TABLE "payment"."payments" (
    "id" UUID NOT NULL,
    "booking_id" TEXT,
    "reservation_id" TEXT,
    "user_id" TEXT NOT NULL,
    "amount_minor" INTEGER NOT NULL,
    "refunded_minor" INTEGER NOT NULL DEFAULT 0,
    "currency" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "provider_payment_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "payments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment"."refunds" (
    "id" UUID NOT NULL,
    "payment_id" UUID NOT NULL,
    "amount_minor" INTEGER NOT NULL,
    "provider_refund_id" TEXT NOT NULL,
    "reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "refunds_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payment"."idempotency_keys" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "body" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateTable
CREATE TABLE "notification"."notifications" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "saga_id" TEXT,
    "data" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification"."idempotency_keys" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "body" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateTable
CREATE TABLE "hotel"."hotels" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "hotels_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "hotel"."room_types" (
    "hotel_id" UUID NOT NULL,
    "room_type" TEXT NOT NULL,
    "capacity" INTEGER NOT NULL,
    "total_rooms" INTEGER NOT NULL,
    "price_per_night_minor" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,

    CONSTRAINT "room_types_pkey" PRIMARY KEY ("hotel_id","room_type")
);

-- CreateTable
CREATE TABLE "hotel"."room_nights" (
    "hotel_id" UUID NOT NULL,
    "room_type" TEXT NOT NULL,
    "night" DATE NOT NULL,
    "reserved" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "room_nights_pkey" PRIMARY KEY ("hotel_id","room_type","night")
);

-- CreateTable
CREATE TABLE "hotel"."reservations" (
    "id" UUID NOT NULL,
    "hotel_id" UUID NOT NULL,
    "room_type" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "check_in" DATE NOT NULL,
    "check_out" DATE NOT NULL,
    "guests" INTEGER NOT NULL,
    "nights" INTEGER NOT NULL,
    "amount_minor" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reservations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "hotel"."idempotency_keys" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "body" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateTable
CREATE TABLE "loyalty"."accounts" (
    "user_id" TEXT NOT NULL,
    "total_points" INTEGER NOT NULL DEFAULT 0,
    "lifetime_points" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "accounts_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "loyalty"."transactions" (
    "id" UUID NOT NULL,
    "user_id" TEXT NOT NULL,
    "reference" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "points" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "loyalty"."idempotency_keys" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "body" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateIndex
CREATE UNIQUE INDEX "sagas_start_key_key" ON "orchestrator"."sagas"("start_key");

-- CreateIndex
CREATE UNIQUE INDEX "sagas_business_key_key" ON "orchestrator"."sagas"("business_key");

-- CreateIndex
CREATE INDEX "sagas_created_at_id_idx" ON "orchestrator"."sagas"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sagas_status_created_at_id_idx" ON "orchestrator"."sagas"("status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sagas_type_created_at_id_idx" ON "orchestrator"."sagas"("type", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sagas_user_id_created_at_idx" ON "orchestrator"."sagas"("user_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "sagas_booking_id_idx" ON "orchestrator"."sagas"("booking_id");

-- CreateIndex
CREATE INDEX "sagas_reservation_id_idx" ON "orchestrator"."sagas"("reservation_id");

-- CreateIndex
CREATE INDEX "sagas_lease_expires_at_idx" ON "orchestrator"."sagas"("lease_expires_at");

-- CreateIndex
CREATE INDEX "saga_events_saga_id_id_idx" ON "orchestrator"."saga_events"("saga_id", "id");

-- CreateIndex
CREATE INDEX "reservations_tour_id_idx" ON "tour_catalog"."reservations"("tour_id");

-- CreateIndex
CREATE UNIQUE INDEX "bookings_reservation_id_key" ON "booking"."bookings"("reservation_id");

-- CreateIndex
CREATE INDEX "bookings_user_id_idx" ON "booking"."bookings"("user_id");

-- CreateIndex
CREATE INDEX "payments_booking_id_idx" ON "payment"."payments"("booking_id");

-- CreateIndex
CREATE INDEX "payments_reservation_id_idx" ON "payment"."payments"("reservation_id");

-- CreateIndex
CREATE INDEX "refunds_payment_id_idx" ON "payment"."refunds"("payment_id");

-- CreateIndex
CREATE INDEX "notifications_user_id_created_at_idx" ON "notification"."notifications"("user_id", "created_at");

-- CreateIndex
CREATE INDEX "reservations_user_id_idx" ON "hotel"."reservations"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "transactions_user_id_reference_kind_key" ON "loyalty"."transactions"("user_id", "reference", "kind");

-- AddForeignKey
ALTER TABLE "orchestrator"."saga_events" ADD CONSTRAINT "saga_events_saga_id_fkey" FOREIGN KEY ("saga_id") REFERENCES "orchestrator"."sagas"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "tour_catalog"."reservations" ADD CONSTRAINT "reservations_tour_id_fkey" FOREIGN KEY ("tour_id") REFERENCES "tour_catalog"."tours"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payment"."refunds" ADD CONSTRAINT "refunds_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "payment"."payments"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "hotel"."room_types" ADD CONSTRAINT "room_types_hotel_id_fkey" FOREIGN KEY ("hotel_id") REFERENCES "hotel"."hotels"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "loyalty"."transactions" ADD CONSTRAINT "transactions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "loyalty"."accounts"("user_id") ON DELETE RESTRICT ON UPDATE CASCADE;
