-- 0009: an event keeps only each reader's latest READ action.
--
-- Every GET appended a READ row, and every answer carries the whole
-- document: after 3,000 reads one record was 869 KB. From now on a READ
-- replaces the same reader's earlier one (see Tx.AppendActions); this drops
-- the earlier ones already stored. Nothing is lost: each read has its own
-- audit row ("action.READ": who, when, from where, its action id).
DELETE FROM event_actions
	WHERE type = 'READ'
	AND seq NOT IN (
		SELECT max(seq) FROM event_actions
		WHERE type = 'READ'
		GROUP BY event_id, json_extract(doc, '$.createdBy'));
