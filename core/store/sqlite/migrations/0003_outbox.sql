-- 0003: transactional outbox, partner correlations and dead letters.
--
-- outbox: messages a write causes, stored in the write's own transaction
-- and deleted by the relay once the bus has them (seq = publication order).
CREATE TABLE outbox (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE, -- bus message id (de-duplication key)
	topic      TEXT NOT NULL,
	payload    BLOB NOT NULL,
	metadata   TEXT NOT NULL, -- JSON object
	created_at TEXT NOT NULL
);

-- correlations: a partner's reference -> the Requested action it stands for.
CREATE TABLE correlations (
	partner    TEXT NOT NULL,
	key        TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	action_id  TEXT NOT NULL,
	doc        TEXT NOT NULL, -- core.Correlation JSON
	created_at TEXT NOT NULL,
	PRIMARY KEY (partner, key)
) WITHOUT ROWID;
CREATE INDEX correlations_action_id ON correlations (action_id);

-- dead_letters: messages that failed after their retry budget.
CREATE TABLE dead_letters (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- arrival order
	id         TEXT NOT NULL UNIQUE,
	topic      TEXT NOT NULL,
	handler    TEXT NOT NULL,
	payload    BLOB NOT NULL,
	metadata   TEXT NOT NULL, -- JSON object
	error      TEXT NOT NULL,
	attempts   INTEGER NOT NULL,
	status     TEXT NOT NULL, -- dead | replayed | discarded
	reason     TEXT NOT NULL,
	failed_at  TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX dead_letters_status ON dead_letters (status, seq);
