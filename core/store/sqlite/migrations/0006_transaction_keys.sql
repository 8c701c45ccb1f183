-- 0006: transaction ids are per caller.
--
-- A transaction id is a client's own key for one request (a hospital's
-- local record number, a FHIR Bundle.identifier). Unique across all
-- clients, two hospitals that both send "1001" collided: the second got the
-- first one's record back (someone else's personal data) and its own birth
-- was never stored. The transaction_id columns now hold the caller's id and
-- its transaction id joined by U+001F (neither contains it; see
-- transactionKey), so the existing UNIQUE constraints hold per caller.
-- The action documents keep the transaction id as sent.
UPDATE events SET transaction_id = coalesce((
		SELECT json_extract(a.doc, '$.createdBy') FROM event_actions a
		WHERE a.event_id = events.id AND a.type = 'CREATE' ORDER BY a.seq LIMIT 1), '')
	|| char(31) || transaction_id
	WHERE transaction_id IS NOT NULL;

UPDATE event_actions SET transaction_id = coalesce(json_extract(doc, '$.createdBy'), '')
	|| char(31) || transaction_id
	WHERE transaction_id IS NOT NULL;
