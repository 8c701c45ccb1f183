-- 0008: a partner's outstanding correlations found by event.
--
-- The MOSIP adapter sends a record again under the packet id it already
-- used for it (a packet sent by an older hub, whose ids were derived
-- otherwise, must be updated, not duplicated): it looks the record's
-- correlations up by event.
CREATE INDEX correlations_event ON correlations (partner, event_id);
