-- 0009: an event keeps only each reader's latest READ action.
--
-- Every GET appended a READ row, and every answer carries the whole
-- document: after 3,000 reads one record was 869 KB. From now on a READ
-- replaces the same reader's earlier one (see Tx.AppendActions); this drops
-- the earlier ones already stored. Each read has its own audit row
-- ("action.READ"), but older hubs wrote neither the read's createdAtLocation
-- nor its role there: so every READ dropped here is first copied, whole,
-- into an audit row of its own ("action.READ.pruned", detail.action), at
-- the read's createdAt, by its reader.
INSERT INTO audit (at, actor_id, actor_type, operation, object_type, object_id, remote_addr, correlation_id, detail)
	SELECT
		coalesce(strftime('%Y-%m-%dT%H:%M:%f', json_extract(doc, '$.createdAt')) || '000000Z',
			strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000000Z'),
		coalesce(json_extract(doc, '$.createdBy'), ''),
		coalesce(json_extract(doc, '$.createdByUserType'), ''),
		'action.READ.pruned', 'event', event_id, '', '',
		json_object('migration', '0009', 'action', json(doc))
	FROM event_actions
	WHERE type = 'READ'
	AND seq NOT IN (
		SELECT max(seq) FROM event_actions
		WHERE type = 'READ'
		GROUP BY event_id, json_extract(doc, '$.createdBy'))
	ORDER BY seq;
DELETE FROM event_actions
	WHERE type = 'READ'
	AND seq NOT IN (
		SELECT max(seq) FROM event_actions
		WHERE type = 'READ'
		GROUP BY event_id, json_extract(doc, '$.createdBy'));
