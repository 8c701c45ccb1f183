-- 0005: what record scopes' jurisdiction and user options test.
--
-- place_of_event: where the event happened (core.PlaceOfEvent: the place
-- field of the event type when it holds a location id or a domestic
-- address, else where the event was created); searches under a scope with
-- placeOfEvent=location|administrativeArea filter on it.
-- declared_by / registered_by: who declared and who registered (for
-- declaredBy=user / registeredBy=user); empty until then, so their indexes
-- are partial.
ALTER TABLE events_index ADD COLUMN place_of_event TEXT NOT NULL DEFAULT '';
ALTER TABLE events_index ADD COLUMN declared_by TEXT NOT NULL DEFAULT '';
ALTER TABLE events_index ADD COLUMN registered_by TEXT NOT NULL DEFAULT '';

-- Existing rows: the EventIndex document already holds placeOfEvent when
-- the place field held a string, and the legal statuses' creators. A place
-- given as an address is picked up when the event is next written.
UPDATE events_index SET
	place_of_event = coalesce(nullif(lower((SELECT json_extract(d.doc, '$.placeOfEvent')
		FROM events_index_docs d WHERE d.rid = events_index.rid)), ''), created_at_location),
	declared_by = coalesce((SELECT json_extract(d.doc, '$.legalStatuses.DECLARED.createdBy')
		FROM events_index_docs d WHERE d.rid = events_index.rid), ''),
	registered_by = coalesce((SELECT json_extract(d.doc, '$.legalStatuses.REGISTERED.createdBy')
		FROM events_index_docs d WHERE d.rid = events_index.rid), '');

CREATE INDEX events_index_place_of_event ON events_index (place_of_event) WHERE deleted = 0;
CREATE INDEX events_index_declared_by ON events_index (declared_by) WHERE deleted = 0 AND declared_by <> '';
CREATE INDEX events_index_registered_by ON events_index (registered_by) WHERE deleted = 0 AND registered_by <> '';
