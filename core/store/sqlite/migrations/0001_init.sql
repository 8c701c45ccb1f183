-- 0001: events, actions, search index, system clients and audit log.
--
-- Timestamps are RFC 3339 UTC text with a fixed nine-digit fraction
-- (2006-01-02T15:04:05.000000000Z) so that they sort as text and round-trip
-- exactly. Optional strings that must stay unique when set are NULL when
-- empty.

CREATE TABLE events (
	id             TEXT NOT NULL PRIMARY KEY,
	type           TEXT NOT NULL,
	transaction_id TEXT, -- of the CREATE action; NULL when none
	tracking_id    TEXT NOT NULL UNIQUE,
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL,
	UNIQUE (transaction_id, type)
);

-- One row per action, in insertion order (seq). An action's identity is
-- (transaction_id, type, status) across all events, and its id.
CREATE TABLE event_actions (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id       TEXT NOT NULL REFERENCES events (id),
	id             TEXT NOT NULL UNIQUE,
	type           TEXT NOT NULL,
	status         TEXT NOT NULL,
	transaction_id TEXT,
	doc            TEXT NOT NULL, -- JSON of core.Action
	UNIQUE (transaction_id, type, status)
);
CREATE INDEX event_actions_event ON event_actions (event_id, seq);

-- The search projection of an event: one small row per event. rid is the
-- key the side tables use (an integer: smaller indexes, and every index of
-- this table carries it, so "rid IN (side-table subquery)" is checked
-- without reading the row). Search indexes are partial (deleted = 0):
-- searches never return deleted events, and the index alone then answers
-- the deleted test.
CREATE TABLE events_index (
	rid                    INTEGER PRIMARY KEY,
	event_id               TEXT NOT NULL UNIQUE REFERENCES events (id),
	type                   TEXT NOT NULL,
	status                 TEXT NOT NULL,
	tracking_id            TEXT NOT NULL,
	registration_number    TEXT UNIQUE, -- NULL when not registered
	created_at             TEXT NOT NULL,
	updated_at             TEXT NOT NULL,
	registered_at          TEXT,        -- NULL when not registered
	created_at_location    TEXT NOT NULL,
	updated_at_location    TEXT NOT NULL,
	declared_at_location   TEXT NOT NULL,
	registered_at_location TEXT NOT NULL,
	assigned_to            TEXT NOT NULL,
	created_by             TEXT NOT NULL,
	updated_by             TEXT NOT NULL,
	created_by_user_type   TEXT NOT NULL,
	date_of_event          TEXT NOT NULL,
	deleted                INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_index_tracking_id ON events_index (tracking_id) WHERE deleted = 0;
CREATE INDEX events_index_type ON events_index (type, created_at, event_id) WHERE deleted = 0;
CREATE INDEX events_index_status ON events_index (status, created_at, event_id) WHERE deleted = 0;
CREATE INDEX events_index_created_at ON events_index (created_at, event_id) WHERE deleted = 0;
CREATE INDEX events_index_updated_at ON events_index (updated_at, event_id) WHERE deleted = 0;
CREATE INDEX events_index_registered_at ON events_index (registered_at) WHERE deleted = 0;
CREATE INDEX events_index_date_of_event ON events_index (date_of_event) WHERE deleted = 0;
CREATE INDEX events_index_created_at_location ON events_index (created_at_location) WHERE deleted = 0;
CREATE INDEX events_index_updated_at_location ON events_index (updated_at_location) WHERE deleted = 0;
CREATE INDEX events_index_declared_at_location ON events_index (declared_at_location) WHERE deleted = 0;
CREATE INDEX events_index_registered_at_location ON events_index (registered_at_location) WHERE deleted = 0;
CREATE INDEX events_index_assigned_to ON events_index (assigned_to) WHERE deleted = 0;
CREATE INDEX events_index_created_by ON events_index (created_by) WHERE deleted = 0;
CREATE INDEX events_index_updated_by ON events_index (updated_by) WHERE deleted = 0;
CREATE INDEX events_index_created_by_user_type ON events_index (created_by_user_type) WHERE deleted = 0;

-- The EventIndex JSON documents search returns, apart from the rows
-- searches filter and sort, so that those stay small.
CREATE TABLE events_index_docs (
	rid INTEGER PRIMARY KEY REFERENCES events_index (rid),
	doc TEXT NOT NULL
);

-- Declaration field values of an event, normalised for search. kind is one
-- of text, token, date (value in text, num = 0) or num (value in num,
-- text = ''). The primary key is the search index of both.
CREATE TABLE event_fields (
	field_id TEXT NOT NULL,
	kind     TEXT NOT NULL,
	text     TEXT NOT NULL,
	num      REAL NOT NULL,
	rid      INTEGER NOT NULL REFERENCES events_index (rid),
	PRIMARY KEY (field_id, kind, text, num, rid)
) WITHOUT ROWID;
CREATE INDEX event_fields_rid ON event_fields (rid);

CREATE TABLE event_flags (
	flag TEXT NOT NULL,
	rid  INTEGER NOT NULL REFERENCES events_index (rid),
	PRIMARY KEY (flag, rid)
) WITHOUT ROWID;
CREATE INDEX event_flags_rid ON event_flags (rid);

CREATE TABLE clients (
	id          TEXT NOT NULL PRIMARY KEY,
	name        TEXT NOT NULL,
	secret_hash TEXT NOT NULL,
	scopes      TEXT NOT NULL, -- JSON array
	office      TEXT NOT NULL,
	status      TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE INDEX clients_created_at ON clients (created_at, id);

CREATE TABLE audit (
	seq            INTEGER PRIMARY KEY AUTOINCREMENT,
	at             TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	actor_type     TEXT NOT NULL,
	operation      TEXT NOT NULL,
	object_type    TEXT NOT NULL,
	object_id      TEXT NOT NULL,
	remote_addr    TEXT NOT NULL,
	correlation_id TEXT NOT NULL,
	detail         TEXT -- JSON, NULL when absent
);
CREATE INDEX audit_object_id ON audit (object_id, seq);
CREATE INDEX audit_actor_id ON audit (actor_id, seq);
