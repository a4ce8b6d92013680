-- AlterTable
ALTER TABLE "orchestrator"."sagas" ADD COLUMN     "started_by" TEXT;

-- CreateIndex
CREATE INDEX "sagas_started_by_created_at_id_idx" ON "orchestrator"."sagas"("started_by", "created_at" DESC, "id" DESC);
