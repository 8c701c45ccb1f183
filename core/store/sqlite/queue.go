package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
)

var _ core.Queues = (*Store)(nil)

// stmt returns a statement prepared on the write connection, preparing it
// the first time (writer goroutine only).
func (t *writeTx) stmt(query string) (*sql.Stmt, error) {
	w := &t.s.ws
	if st := w.lazy[query]; st != nil {
		return st, nil
	}
	st, err := t.s.wconn.PrepareContext(t.ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: prepare: %w", err)
	}
	if w.lazy == nil {
		w.lazy = map[string]*sql.Stmt{}
	}
	w.lazy[query] = st
	w.all = append(w.all, st)
	return st, nil
}

func (t *writeTx) exec(query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

func (t *writeTx) queryRow(query string, args ...any) (*sql.Row, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(t.ctx, args...), nil
}

func metadataJSON(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func parseMetadata(s string) map[string]string {
	var m map[string]string
	if s != "" && s != "{}" {
		_ = json.Unmarshal([]byte(s), &m)
	}
	return m
}

func (v *txView) Enqueue(m core.OutboxMessage) error {
	if err := v.check(); err != nil {
		return err
	}
	if m.ID == "" || m.Topic == "" {
		return errors.New("sqlite: Enqueue: message without id or topic")
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	payload := []byte(m.Payload)
	if payload == nil {
		payload = []byte{}
	}
	_, err := v.tx.exec(`INSERT INTO outbox (id, topic, payload, metadata, created_at) VALUES (?, ?, ?, ?, ?)`,
		m.ID, m.Topic, payload, metadataJSON(m.Metadata), formatTime(m.CreatedAt))
	if err != nil {
		if k, _ := constraint(err); k != notConstraint {
			return fmt.Errorf("sqlite: enqueue %s: %w", m.ID, core.ErrDuplicate)
		}
		return fmt.Errorf("sqlite: enqueue %s: %w", m.ID, err)
	}
	return nil
}

func (v *txView) PutCorrelation(c core.Correlation) error {
	if err := v.check(); err != nil {
		return err
	}
	if c.Partner == "" || c.Key == "" || c.EventID == "" || c.ActionID == "" {
		return errors.New("sqlite: PutCorrelation: partner, key, eventId and actionId are required")
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("sqlite: PutCorrelation: %w", err)
	}
	if _, err := v.tx.exec(`INSERT OR REPLACE INTO correlations (partner, key, event_id, action_id, doc, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, c.Partner, c.Key, c.EventID, c.ActionID, string(doc), formatTime(c.CreatedAt)); err != nil {
		return fmt.Errorf("sqlite: PutCorrelation: %w", err)
	}
	return nil
}

const sqlCorrelation = `SELECT doc FROM correlations WHERE partner = ? AND key = ?`

func scanCorrelation(row *sql.Row, partner, key string) (*core.Correlation, error) {
	var doc string
	if err := row.Scan(&doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("correlation %s/%s: %w", partner, key, core.ErrNotFound)
		}
		return nil, fmt.Errorf("sqlite: correlation: %w", err)
	}
	var c core.Correlation
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return nil, fmt.Errorf("sqlite: correlation %s/%s: %w", partner, key, err)
	}
	return &c, nil
}

func (v *txView) Correlation(partner, key string) (*core.Correlation, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	row, err := v.tx.queryRow(sqlCorrelation, partner, key)
	if err != nil {
		return nil, err
	}
	return scanCorrelation(row, partner, key)
}

func (v *txView) DeleteCorrelation(partner, key string) error {
	if err := v.check(); err != nil {
		return err
	}
	if _, err := v.tx.exec(`DELETE FROM correlations WHERE partner = ? AND key = ?`, partner, key); err != nil {
		return fmt.Errorf("sqlite: DeleteCorrelation: %w", err)
	}
	return nil
}

const sqlDeadLetterCols = `seq, id, topic, handler, payload, metadata, error, attempts, status, reason, failed_at, updated_at`

func scanDeadLetter(r rowScanner) (*core.DeadLetter, error) {
	var (
		d                 core.DeadLetter
		payload           []byte
		meta, failed, upd string
	)
	if err := r.Scan(&d.Seq, &d.ID, &d.Topic, &d.Handler, &payload, &meta, &d.Error, &d.Attempts,
		&d.Status, &d.Reason, &failed, &upd); err != nil {
		return nil, err
	}
	d.Payload = json.RawMessage(payload)
	d.Metadata = parseMetadata(meta)
	d.FailedAt, _ = parseTime(failed)
	d.UpdatedAt, _ = parseTime(upd)
	return &d, nil
}

func (v *txView) DeadLetter(id string) (*core.DeadLetter, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	row, err := v.tx.queryRow(`SELECT `+sqlDeadLetterCols+` FROM dead_letters WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	d, err := scanDeadLetter(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("dead letter %s: %w", id, core.ErrNotFound)
	}
	return d, err
}

func (v *txView) SetDeadLetterStatus(id, status, reason string, at time.Time) error {
	if err := v.check(); err != nil {
		return err
	}
	res, err := v.tx.exec(`UPDATE dead_letters SET status = ?, reason = ?, updated_at = ? WHERE id = ?`,
		status, reason, formatTime(at), id)
	if err != nil {
		return fmt.Errorf("sqlite: SetDeadLetterStatus: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("dead letter %s: %w", id, core.ErrNotFound)
	}
	return nil
}

// PendingOutbox returns up to limit unpublished messages, oldest first.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]core.OutboxMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT seq, id, topic, payload, metadata, created_at FROM outbox ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending outbox: %w", err)
	}
	defer rows.Close()
	var out []core.OutboxMessage
	for rows.Next() {
		var (
			m             core.OutboxMessage
			payload       []byte
			meta, created string
		)
		if err := rows.Scan(&m.Seq, &m.ID, &m.Topic, &payload, &meta, &created); err != nil {
			return nil, fmt.Errorf("sqlite: pending outbox: %w", err)
		}
		m.Payload = json.RawMessage(payload)
		m.Metadata = parseMetadata(meta)
		m.CreatedAt, _ = parseTime(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// OutboxLen counts unpublished outbox messages.
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: outbox length: %w", err)
	}
	return n, nil
}

// DeleteOutbox removes published messages.
func (s *Store) DeleteOutbox(ctx context.Context, seqs ...int64) error {
	if len(seqs) == 0 {
		return nil
	}
	return s.Write(ctx, func(tx core.Tx) error {
		v := tx.(*txView)
		if err := v.check(); err != nil {
			return err
		}
		for _, seq := range seqs {
			if _, err := v.tx.exec(`DELETE FROM outbox WHERE seq = ?`, seq); err != nil {
				return fmt.Errorf("sqlite: delete outbox: %w", err)
			}
		}
		return nil
	})
}

// PutDeadLetter stores a dead letter; a message id already stored gets
// its error, attempts and failure time updated and is dead again.
func (s *Store) PutDeadLetter(ctx context.Context, d core.DeadLetter) error {
	if d.ID == "" {
		return errors.New("sqlite: PutDeadLetter: message without id")
	}
	if d.FailedAt.IsZero() {
		d.FailedAt = time.Now()
	}
	payload := []byte(d.Payload)
	if payload == nil {
		payload = []byte{}
	}
	return s.Write(ctx, func(tx core.Tx) error {
		v := tx.(*txView)
		if err := v.check(); err != nil {
			return err
		}
		_, err := v.tx.exec(`INSERT INTO dead_letters (id, topic, handler, payload, metadata, error, attempts, status, reason, failed_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'dead', '', ?, ?)
			ON CONFLICT (id) DO UPDATE SET error = excluded.error, attempts = dead_letters.attempts + excluded.attempts,
				status = 'dead', reason = '', failed_at = excluded.failed_at, updated_at = excluded.updated_at`,
			d.ID, d.Topic, d.Handler, payload, metadataJSON(d.Metadata), d.Error, d.Attempts,
			formatTime(d.FailedAt), formatTime(d.FailedAt))
		if err != nil {
			return fmt.Errorf("sqlite: PutDeadLetter: %w", err)
		}
		return nil
	})
}

// DeadLetters lists dead letters in arrival order.
func (s *Store) DeadLetters(ctx context.Context, f core.DeadLetterFilter) ([]core.DeadLetter, error) {
	var (
		where []string
		args  []any
	)
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.Handler != "" {
		where = append(where, "handler = ?")
		args = append(args, f.Handler)
	}
	if len(f.IDs) > 0 {
		// One JSON array parameter, whatever the number of ids (SQLite
		// allows at most 32,766 bound variables per statement).
		ids, err := json.Marshal(f.IDs)
		if err != nil {
			return nil, fmt.Errorf("sqlite: dead letters: %w", err)
		}
		where = append(where, "id IN (SELECT value FROM json_each(?))")
		args = append(args, string(ids))
	}
	q := `SELECT ` + sqlDeadLetterCols + ` FROM dead_letters`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq LIMIT ?"
	limit := -1
	if f.Limit > 0 {
		limit = f.Limit
	}
	rows, err := s.rdb.QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: dead letters: %w", err)
	}
	defer rows.Close()
	var out []core.DeadLetter
	for rows.Next() {
		d, err := scanDeadLetter(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: dead letters: %w", err)
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

// Correlation reads one partner correlation.
func (s *Store) Correlation(ctx context.Context, partner, key string) (*core.Correlation, error) {
	return scanCorrelation(s.rdb.QueryRowContext(ctx, sqlCorrelation, partner, key), partner, key)
}

// PutCorrelation inserts or replaces one partner correlation.
func (s *Store) PutCorrelation(ctx context.Context, c core.Correlation) error {
	return s.Write(ctx, func(tx core.Tx) error { return tx.PutCorrelation(c) })
}

// EventCorrelations lists a partner's outstanding correlations for one
// event, oldest first.
func (s *Store) EventCorrelations(ctx context.Context, partner, eventID string) ([]core.Correlation, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT doc FROM correlations WHERE partner = ? AND event_id = ? ORDER BY created_at, key`, partner, eventID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: event correlations: %w", err)
	}
	defer rows.Close()
	var out []core.Correlation
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("sqlite: event correlations: %w", err)
		}
		var c core.Correlation
		if err := json.Unmarshal([]byte(doc), &c); err != nil {
			return nil, fmt.Errorf("sqlite: event correlations: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: event correlations: %w", err)
	}
	return out, nil
}

// DeleteCorrelation removes one partner correlation (no write when it is
// already gone, e.g. deleted with the resolution it settled).
func (s *Store) DeleteCorrelation(ctx context.Context, partner, key string) error {
	if _, err := s.Correlation(ctx, partner, key); errors.Is(err, core.ErrNotFound) {
		return nil
	}
	return s.Write(ctx, func(tx core.Tx) error { return tx.DeleteCorrelation(partner, key) })
}
