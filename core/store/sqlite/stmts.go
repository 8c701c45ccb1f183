package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// SQL shared by the writer and the readers.
const (
	sqlEventByID = `SELECT e.type, e.tracking_id, e.created_at, e.updated_at, a.doc
		FROM events e LEFT JOIN event_actions a ON a.event_id = e.id
		WHERE e.id = ? ORDER BY a.seq`
	sqlClientByID = `SELECT id, name, secret_hash, scopes, office, status, created_at, updated_at
		FROM clients WHERE id = ?`
)

// writeStmts are prepared once on the write connection.
type writeStmts struct {
	begin, commit, rollback            *sql.Stmt
	savepoint, release, rollbackTo     *sql.Stmt // the per-request savepoint "w"
	opSavepoint, opRelease, opRollback *sql.Stmt // a Tx method's own savepoint "op"

	insertEvent, insertAction, touchEvent *sql.Stmt
	deleteReads                           *sql.Stmt
	eventByID, eventIDByTransaction       *sql.Stmt
	upsertIndex, upsertDoc                *sql.Stmt
	indexFields, deleteField              *sql.Stmt
	indexFlags, deleteFlag, insertFlag    *sql.Stmt
	putClient, clientByID, insertAudit    *sql.Stmt

	// insertFields[n-1] inserts n event_fields rows, prepared when first
	// needed (writer goroutine only).
	insertFields [maxFieldRowsPerInsert]*sql.Stmt

	// lazy holds statements prepared when first used (writer goroutine
	// only): the outbox, correlation and dead letter writes.
	lazy map[string]*sql.Stmt

	all []*sql.Stmt
}

// maxFieldRowsPerInsert caps the rows of one multi-row event_fields INSERT.
const maxFieldRowsPerInsert = 32

// insertFieldsStmt returns the statement inserting n (1..maxFieldRowsPerInsert)
// event_fields rows, preparing it on c the first time.
func (w *writeStmts) insertFieldsStmt(ctx context.Context, c *sql.Conn, n int) (*sql.Stmt, error) {
	if st := w.insertFields[n-1]; st != nil {
		return st, nil
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO event_fields (field_id, kind, text, num, rid) VALUES ")
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?)")
	}
	st, err := c.PrepareContext(ctx, sb.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare field insert: %w", err)
	}
	w.insertFields[n-1] = st
	w.all = append(w.all, st)
	return st, nil
}

func (w *writeStmts) prepare(ctx context.Context, c *sql.Conn) error {
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.savepoint, "SAVEPOINT w"},
		{&w.release, "RELEASE w"},
		{&w.rollbackTo, "ROLLBACK TO w"},
		{&w.opSavepoint, "SAVEPOINT op"},
		{&w.opRelease, "RELEASE op"},
		{&w.opRollback, "ROLLBACK TO op"},
		{&w.insertEvent, `INSERT INTO events (id, type, transaction_id, tracking_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`},
		{&w.insertAction, `INSERT INTO event_actions (event_id, id, type, status, transaction_id, doc)
			VALUES (?, ?, ?, ?, ?, ?)`},
		{&w.touchEvent, `UPDATE events SET updated_at = ? WHERE id = ?`},
		// the event_actions_event index narrows this to the event's rows,
		// which hold at most one READ per reader (see AppendActions)
		{&w.deleteReads, `DELETE FROM event_actions WHERE event_id = ? AND type = 'READ'
			AND json_extract(doc, '$.createdBy') = ?`},
		{&w.eventByID, sqlEventByID},
		{&w.eventIDByTransaction, `SELECT id FROM events WHERE transaction_id = ? AND type = ?`},
		{&w.upsertIndex, `INSERT INTO events_index (event_id, type, status, tracking_id,
			registration_number, created_at, updated_at, registered_at, created_at_location,
			updated_at_location, declared_at_location, registered_at_location, assigned_to,
			created_by, updated_by, created_by_user_type, date_of_event, deleted,
			place_of_event, declared_by, registered_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (event_id) DO UPDATE SET
			type = excluded.type, status = excluded.status, tracking_id = excluded.tracking_id,
			registration_number = excluded.registration_number, created_at = excluded.created_at,
			updated_at = excluded.updated_at, registered_at = excluded.registered_at,
			created_at_location = excluded.created_at_location,
			updated_at_location = excluded.updated_at_location,
			declared_at_location = excluded.declared_at_location,
			registered_at_location = excluded.registered_at_location,
			assigned_to = excluded.assigned_to, created_by = excluded.created_by,
			updated_by = excluded.updated_by, created_by_user_type = excluded.created_by_user_type,
			date_of_event = excluded.date_of_event, deleted = excluded.deleted,
			place_of_event = excluded.place_of_event, declared_by = excluded.declared_by,
			registered_by = excluded.registered_by
			RETURNING rid`},
		{&w.upsertDoc, `INSERT INTO events_index_docs (rid, doc) VALUES (?, ?)
			ON CONFLICT (rid) DO UPDATE SET doc = excluded.doc`},
		{&w.indexFields, `SELECT field_id, kind, text, num FROM event_fields WHERE rid = ?`},
		{&w.deleteField, `DELETE FROM event_fields WHERE field_id = ? AND kind = ? AND text = ? AND num = ? AND rid = ?`},
		{&w.indexFlags, `SELECT flag FROM event_flags WHERE rid = ?`},
		{&w.deleteFlag, `DELETE FROM event_flags WHERE flag = ? AND rid = ?`},
		{&w.insertFlag, `INSERT INTO event_flags (flag, rid) VALUES (?, ?)`},
		{&w.putClient, `INSERT INTO clients (id, name, secret_hash, scopes, office, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash,
			scopes = excluded.scopes, office = excluded.office, status = excluded.status,
			created_at = excluded.created_at, updated_at = excluded.updated_at`},
		{&w.clientByID, sqlClientByID},
		{&w.insertAudit, `INSERT INTO audit (at, actor_id, actor_type, operation, object_type, object_id,
			remote_addr, correlation_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
	} {
		st, err := c.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", p.sql, err)
		}
		*p.dst = st
		w.all = append(w.all, st)
	}
	return nil
}

func (w *writeStmts) close() error { return closeStmts(w.all) }

// readStmts are prepared on the read pool (database/sql prepares each on a
// connection the first time it runs there, then reuses it).
type readStmts struct {
	eventByID, eventIDByTracking *sql.Stmt
	clientByID, clients          *sql.Stmt
	docs                         *sql.Stmt
	// audit[i] filters by object id when i&1, by actor id when i&2.
	audit [4]*sql.Stmt

	all []*sql.Stmt
}

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	const auditCols = `SELECT seq, at, actor_id, actor_type, operation, object_type, object_id,
		remote_addr, correlation_id, detail FROM audit`
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&r.eventByID, sqlEventByID},
		{&r.eventIDByTracking, `SELECT id FROM events WHERE tracking_id = ?`},
		{&r.clientByID, sqlClientByID},
		{&r.clients, `SELECT id, name, secret_hash, scopes, office, status, created_at, updated_at
			FROM clients ORDER BY created_at, id`},
		{&r.docs, sqlDocs},
		{&r.audit[0], auditCols + ` ORDER BY seq LIMIT ?`},
		{&r.audit[1], auditCols + ` WHERE object_id = ? ORDER BY seq LIMIT ?`},
		{&r.audit[2], auditCols + ` WHERE actor_id = ? ORDER BY seq LIMIT ?`},
		{&r.audit[3], auditCols + ` WHERE object_id = ? AND actor_id = ? ORDER BY seq LIMIT ?`},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", p.sql, err)
		}
		*p.dst = st
		r.all = append(r.all, st)
	}
	return nil
}

func (r *readStmts) close() error { return closeStmts(r.all) }

func closeStmts(sts []*sql.Stmt) error {
	var errs []error
	for _, st := range sts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// stmtCache keeps the prepared statements of recent search shapes. The SQL
// text depends only on the shape of a filter (values are parameters), so a
// small cache covers the queries a deployment actually runs.
type stmtCache struct {
	db  *sql.DB
	max int

	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
}

func (c *stmtCache) init(db *sql.DB, max int) {
	c.db, c.max, c.m = db, max, make(map[string]*sql.Stmt)
}

// get returns a prepared statement for query, or nil (run it unprepared)
// when the cache is full.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[query]
	full := c.closed || len(c.m) >= c.max
	c.mu.Unlock()
	if ok || full {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare search: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok || c.closed {
		_ = st.Close() // lost a race with another preparer, or closing
		return old, nil
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m, c.closed = nil, true
}
