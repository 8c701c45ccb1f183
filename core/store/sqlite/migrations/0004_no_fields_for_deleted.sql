-- 0004: deleted events keep no event_fields rows.
--
-- Searches never return a deleted event (deleted = 0 is part of every
-- search). With no field rows for deleted events, the rids of field rows
-- are live events only, so a search made only of field conditions counts
-- its matches from event_fields alone, without looking each rid up in
-- events_index (PutIndex stores no field rows for a deleted event).

DELETE FROM event_fields WHERE rid IN (SELECT rid FROM events_index WHERE deleted <> 0);
