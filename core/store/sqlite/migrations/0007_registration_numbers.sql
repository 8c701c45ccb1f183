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

-- Numbers in use now: first those records are registered under...
INSERT OR IGNORE INTO registration_numbers (number, event_id)
	SELECT registration_number, event_id FROM events_index
	WHERE registration_number IS NOT NULL AND registration_number <> '';

-- ...then those of REGISTER requests still waiting (no accepted or
-- rejected row points at them), oldest first. A rejected request's number
-- is free, as it is when a rejection happens from now on; a number an
-- accepted record holds stays with it.
INSERT OR IGNORE INTO registration_numbers (number, event_id)
	SELECT json_extract(r.doc, '$.registrationNumber'), r.event_id FROM event_actions r
	WHERE r.type = 'REGISTER' AND r.status = 'Requested'
		AND coalesce(json_extract(r.doc, '$.registrationNumber'), '') <> ''
		AND NOT EXISTS (SELECT 1 FROM event_actions x
			WHERE x.event_id = r.event_id AND json_extract(x.doc, '$.originalActionId') = r.id)
	ORDER BY r.seq;
