-- Leave room in each page of orchestrator.sagas so a saga's transitions, which change no
-- indexed column, are HOT updates (no new index entries). Storage parameter only: the Prisma
-- schema has no way to say it, and schema diffs ignore it.
ALTER TABLE "orchestrator"."sagas" SET (fillfactor = 80);
