-- 0002: fewer index entries per event.
--
-- created_by_user_type has a handful of values: its index never narrows a
-- search enough to beat a scan of a better index, yet every event write
-- pays for an entry in it. It goes.
--
-- declared_at_location, registered_at_location, assigned_to (empty text
-- when unset) and registered_at (NULL when unset) are empty for most
-- events (every notified or declared-but-not-registered one): their
-- indexes become partial, holding only the events that have a value. The
-- search compiler adds the matching "col <> ''" / "col IS NOT NULL" term to
-- conditions on these columns so the planner can still use them (nobody
-- searches for the empty value).

DROP INDEX events_index_created_by_user_type;

DROP INDEX events_index_declared_at_location;
CREATE INDEX events_index_declared_at_location ON events_index (declared_at_location)
	WHERE deleted = 0 AND declared_at_location <> '';

DROP INDEX events_index_registered_at_location;
CREATE INDEX events_index_registered_at_location ON events_index (registered_at_location)
	WHERE deleted = 0 AND registered_at_location <> '';

DROP INDEX events_index_assigned_to;
CREATE INDEX events_index_assigned_to ON events_index (assigned_to)
	WHERE deleted = 0 AND assigned_to <> '';

DROP INDEX events_index_registered_at;
CREATE INDEX events_index_registered_at ON events_index (registered_at)
	WHERE deleted = 0 AND registered_at IS NOT NULL;
