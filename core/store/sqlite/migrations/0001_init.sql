-- 0001: events, actions, search index, system clients and audit log.
--
-- Timestamps are RFC 3339 UTC text with a fixed nine-digit fraction
-- (2006-01-02T15:04:05.000000000Z) so that they sort as text and round-trip
-- exactly. Optional strings that must stay unique when set are NULL when
-- empty.

CREATE TABLE events (
	id             TEXT NOT NULL PRIMARY KEY,
	type           TEXT NOT NULL,
	transaction_id TEXT,
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

-- The search projection of an event: one row per event.
CREATE TABLE events_index (
	event_id               TEXT NOT NULL PRIMARY KEY REFERENCES events (id),
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
	deleted                INTEGER NOT NULL DEFAULT 0,
	doc                    TEXT NOT NULL -- JSON of the EventIndex
);
CREATE INDEX events_index_tracking_id ON events_index (tracking_id);
CREATE INDEX events_index_status ON events_index (status, created_at);
CREATE INDEX events_index_type ON events_index (type, created_at);
CREATE INDEX events_index_created_at ON events_index (created_at, event_id);
CREATE INDEX events_index_updated_at ON events_index (updated_at, event_id);
CREATE INDEX events_index_registered_at ON events_index (registered_at);
CREATE INDEX events_index_date_of_event ON events_index (date_of_event);
CREATE INDEX events_index_created_at_location ON events_index (created_at_location);
CREATE INDEX events_index_updated_at_location ON events_index (updated_at_location);
CREATE INDEX events_index_declared_at_location ON events_index (declared_at_location);
CREATE INDEX events_index_registered_at_location ON events_index (registered_at_location);
CREATE INDEX events_index_assigned_to ON events_index (assigned_to);
CREATE INDEX events_index_created_by ON events_index (created_by);
CREATE INDEX events_index_updated_by ON events_index (updated_by);

-- Declaration field values of an event, normalised for search. kind is one
-- of text, token, date (all in text) or num (in num).
CREATE TABLE event_fields (
	event_id TEXT NOT NULL REFERENCES events_index (event_id) ON DELETE CASCADE,
	field_id TEXT NOT NULL,
	kind     TEXT NOT NULL,
	text     TEXT,
	num      REAL
);
CREATE INDEX event_fields_event ON event_fields (event_id);
CREATE INDEX event_fields_text ON event_fields (field_id, kind, text, event_id);
CREATE INDEX event_fields_num ON event_fields (field_id, kind, num, event_id);

CREATE TABLE event_flags (
	event_id TEXT NOT NULL REFERENCES events_index (event_id) ON DELETE CASCADE,
	flag     TEXT NOT NULL,
	PRIMARY KEY (event_id, flag)
) WITHOUT ROWID;
CREATE INDEX event_flags_flag ON event_flags (flag, event_id);

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
