-- AlterTable
ALTER TABLE "orchestrator"."sagas" ADD COLUMN     "definition_version" TEXT,
ADD COLUMN     "incident" JSONB,
ADD COLUMN     "incident_code" TEXT,
ADD COLUMN     "incident_step" TEXT,
ADD COLUMN     "pause_request" JSONB,
ADD COLUMN     "started_by" TEXT;

-- CreateIndex
CREATE INDEX "sagas_incident_code_created_at_idx" ON "orchestrator"."sagas"("incident_code", "created_at" DESC);

-- CreateIndex
CREATE INDEX "sagas_started_by_created_at_idx" ON "orchestrator"."sagas"("started_by", "created_at" DESC);
