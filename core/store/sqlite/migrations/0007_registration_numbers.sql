-- 0007: registration numbers are reserved, not only unique once accepted.
--
-- A REGISTER that waits for a partner (a National ID system) carries the
-- number it will be registered under, and the partner receives it. Only
-- accepted numbers were unique (events_index.registration_number), so
-- another record could be registered under a number reserved for a record
-- still waiting, and two people reached MOSIP under one certificate
-- number. A number now belongs to one event from the moment it is drawn
-- or sent by a caller until that REGISTER is rejected.
CREATE TABLE registration_numbers (
	number   TEXT NOT NULL PRIMARY KEY,
	event_id TEXT NOT NULL
) WITHOUT ROWID;

-- Existing numbers, accepted or reserved, in the order they were written;
-- a number two events claim stays with the first.
INSERT OR IGNORE INTO registration_numbers (number, event_id)
	SELECT json_extract(doc, '$.registrationNumber'), event_id FROM event_actions
	WHERE type = 'REGISTER' AND coalesce(json_extract(doc, '$.registrationNumber'), '') <> ''
	ORDER BY seq;
