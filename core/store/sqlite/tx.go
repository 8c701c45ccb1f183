package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/crvshub/crvshub/core"
)

// writeTx is the writer's view of the batch transaction. It is used only
// on the writer goroutine.
type writeTx struct {
	s   *Store
	ctx context.Context
	// poisoned is set when a Tx method failed and could not undo its own
	// partial work; the request it belongs to is then rolled back.
	poisoned error
}

// txView is the core.Tx handed to one fn; it stops working once fn returns.
type txView struct {
	tx   *writeTx
	done atomic.Bool
}

var _ core.Tx = (*txView)(nil)

var errTxDone = errors.New("sqlite: Tx used after its Write function returned")

func (v *txView) check() error {
	if v.done.Load() {
		return errTxDone
	}
	if v.tx.s.aborted.Load() {
		// Never run a statement outside the batch transaction.
		return errAborted
	}
	return nil
}

func (v *txView) Event(id string) (*core.EventDocument, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return queryEvent(v.tx.ctx, v.tx.s.ws.eventByID, id)
}

func (v *txView) EventByTransaction(createdBy, transactionID, eventType string) (*core.EventDocument, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	var id string
	err := v.tx.s.ws.eventIDByTransaction.QueryRowContext(v.tx.ctx, transactionKey(createdBy, transactionID), eventType).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: event with transaction %q and type %q: %w", transactionID, eventType, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: event by transaction: %w", err)
	}
	return queryEvent(v.tx.ctx, v.tx.s.ws.eventByID, id)
}

// eventTransactionKey is the key an event was created with: that of its
// CREATE action ("" when it has none).
func eventTransactionKey(ev *core.EventDocument) string {
	for i := range ev.Actions {
		if a := &ev.Actions[i]; a.Type == core.ActionCreate {
			return transactionKey(a.CreatedBy, a.TransactionID)
		}
	}
	return ""
}

// transactionKey is what the transaction_id columns hold (migration 0006):
// the caller's id and its transaction id, joined by U+001F (which neither
// may contain), so that the UNIQUE constraints on those columns make
// transaction ids unique per caller, not across callers. "" when the
// transaction id is empty (stored as NULL).
func transactionKey(createdBy, transactionID string) string {
	if transactionID == "" {
		return ""
	}
	return createdBy + "\x1f" + transactionID
}

func (v *txView) InsertEvent(ev *core.EventDocument) error {
	if err := v.check(); err != nil {
		return err
	}
	if ev == nil || ev.ID == "" {
		return errors.New("sqlite: InsertEvent: event without id")
	}
	w := &v.tx.s.ws
	return v.tx.inSavepoint(func(ctx context.Context) error {
		if _, err := w.insertEvent.ExecContext(ctx, ev.ID, ev.Type, nullString(eventTransactionKey(ev)),
			ev.TrackingID, formatTime(ev.CreatedAt), formatTime(ev.UpdatedAt)); err != nil {
			return mapEventError(err, ev.ID)
		}
		return v.tx.insertActions(ctx, ev.ID, ev.Actions)
	})
}

func (v *txView) AppendActions(eventID string, updatedAt time.Time, actions ...core.Action) error {
	if err := v.check(); err != nil {
		return err
	}
	w := &v.tx.s.ws
	return v.tx.inSavepoint(func(ctx context.Context) error {
		res, err := w.touchEvent.ExecContext(ctx, formatTime(updatedAt), eventID)
		if err != nil {
			return mapEventError(err, eventID)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: append actions: %w", err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: event %s: %w", eventID, core.ErrNotFound)
		}
		for i := range actions {
			if a := &actions[i]; a.Type == core.ActionRead {
				// the reader's earlier READ row gives way to this one; the
				// audit log keeps every read (see core.Tx.AppendActions)
				if _, err := w.deleteReads.ExecContext(ctx, eventID, a.CreatedBy); err != nil {
					return fmt.Errorf("sqlite: replace earlier READ of %s: %w", eventID, err)
				}
			}
		}
		return v.tx.insertActions(ctx, eventID, actions)
	})
}

// storedAction is how an action is kept in event_actions.doc: core.Action
// without its wire encoding (whose times have three fraction digits), so
// that a stored time reads back exactly.
type storedAction core.Action

func (t *writeTx) insertActions(ctx context.Context, eventID string, actions []core.Action) error {
	for i := range actions {
		a := actions[i] // a copy: normalise without touching the caller's
		a.CreatedAt = a.CreatedAt.UTC()
		doc, err := json.Marshal((*storedAction)(&a))
		if err != nil {
			return fmt.Errorf("sqlite: encode action %s: %w", a.ID, err)
		}
		if _, err := t.s.ws.insertAction.ExecContext(ctx, eventID, a.ID, string(a.Type), string(a.Status),
			nullString(transactionKey(a.CreatedBy, a.TransactionID)), string(doc)); err != nil {
			return mapEventError(err, eventID)
		}
	}
	return nil
}

func (v *txView) PutIndex(row *core.IndexRow) error {
	if err := v.check(); err != nil {
		return err
	}
	if row == nil || row.EventID == "" {
		return errors.New("sqlite: PutIndex: row without event id")
	}
	if !json.Valid(row.Doc) {
		return fmt.Errorf("sqlite: PutIndex %s: Doc is not valid JSON", row.EventID)
	}
	// A deleted event keeps no field rows (migration 0004): searches never
	// return it, and then the rids of field rows are live events only, so
	// a search by field values can count its matches from event_fields
	// alone (see fieldSet).
	fields := row.Fields
	if row.Deleted {
		fields = nil
	}
	want := make(map[fieldRow]bool, len(fields))
	for _, f := range fields {
		switch f.Kind {
		case core.KindText, core.KindToken, core.KindDate:
			want[fieldRow{f.FieldID, string(f.Kind), f.Text, 0}] = true
		case core.KindNum:
			want[fieldRow{f.FieldID, string(f.Kind), "", f.Num}] = true
		default:
			return fmt.Errorf("sqlite: PutIndex %s: field %s has unknown kind %q", row.EventID, f.FieldID, f.Kind)
		}
	}
	wantFlags := make(map[string]bool, len(row.Flags))
	for _, f := range row.Flags {
		wantFlags[f] = true
	}
	w := &v.tx.s.ws
	return v.tx.inSavepoint(func(ctx context.Context) error {
		deleted := 0
		if row.Deleted {
			deleted = 1
		}
		var rid int64
		if err := w.upsertIndex.QueryRowContext(ctx, row.EventID, row.Type, row.Status, row.TrackingID,
			nullString(row.RegistrationNumber), formatTime(row.CreatedAt), formatTime(row.UpdatedAt),
			nullTime(row.RegisteredAt), row.CreatedAtLocation, row.UpdatedAtLocation,
			row.DeclaredAtLocation, row.RegisteredAtLocation, row.AssignedTo, row.CreatedBy,
			row.UpdatedBy, row.CreatedByUserType, row.DateOfEvent, deleted,
			row.PlaceOfEvent, row.DeclaredBy, row.RegisteredBy).Scan(&rid); err != nil {
			return mapEventError(err, row.EventID)
		}
		if _, err := w.upsertDoc.ExecContext(ctx, rid, string(row.Doc)); err != nil {
			return fmt.Errorf("sqlite: PutIndex %s: %w", row.EventID, err)
		}
		if err := v.tx.syncFields(ctx, rid, want); err != nil {
			return fmt.Errorf("sqlite: PutIndex %s: %w", row.EventID, err)
		}
		if err := v.tx.syncFlags(ctx, rid, wantFlags); err != nil {
			return fmt.Errorf("sqlite: PutIndex %s: %w", row.EventID, err)
		}
		return nil
	})
}

// fieldRow is one event_fields row of an event.
type fieldRow struct {
	fieldID, kind, text string
	num                 float64
}

// syncFields makes the event's field rows equal to want, touching only the
// rows that changed (a re-index after an action usually changes none).
func (t *writeTx) syncFields(ctx context.Context, rid int64, want map[fieldRow]bool) error {
	w := &t.s.ws
	rows, err := w.indexFields.QueryContext(ctx, rid)
	if err != nil {
		return err
	}
	var stale []fieldRow
	for rows.Next() {
		var r fieldRow
		if err := rows.Scan(&r.fieldID, &r.kind, &r.text, &r.num); err != nil {
			rows.Close()
			return err
		}
		if want[r] {
			delete(want, r) // already stored
		} else {
			stale = append(stale, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range stale {
		if _, err := w.deleteField.ExecContext(ctx, r.fieldID, r.kind, r.text, r.num, rid); err != nil {
			return err
		}
	}
	// New rows go in multi-row INSERTs: a new event has ~20 of them, and
	// one statement per row cost more in statement calls than in b-tree
	// work.
	args := make([]any, 0, 5*min(len(want), maxFieldRowsPerInsert))
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		st, err := w.insertFieldsStmt(ctx, t.s.wconn, n)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("fields: %w", err)
		}
		args, n = args[:0], 0
		return nil
	}
	for r := range want {
		args = append(args, r.fieldID, r.kind, r.text, r.num, rid)
		if n++; n == maxFieldRowsPerInsert {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// syncFlags does for flags what syncFields does for fields.
func (t *writeTx) syncFlags(ctx context.Context, rid int64, want map[string]bool) error {
	w := &t.s.ws
	rows, err := w.indexFlags.QueryContext(ctx, rid)
	if err != nil {
		return err
	}
	var stale []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			rows.Close()
			return err
		}
		if want[f] {
			delete(want, f)
		} else {
			stale = append(stale, f)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, f := range stale {
		if _, err := w.deleteFlag.ExecContext(ctx, f, rid); err != nil {
			return err
		}
	}
	for f := range want {
		if _, err := w.insertFlag.ExecContext(ctx, f, rid); err != nil {
			return fmt.Errorf("flag %s: %w", f, err)
		}
	}
	return nil
}

func (v *txView) PutClient(c *core.Client) error {
	if err := v.check(); err != nil {
		return err
	}
	if c == nil || c.ID == "" {
		return errors.New("sqlite: PutClient: client without id")
	}
	scopes, err := json.Marshal(c.Scopes)
	if err != nil {
		return fmt.Errorf("sqlite: PutClient %s: %w", c.ID, err)
	}
	if _, err := v.tx.s.ws.putClient.ExecContext(v.tx.ctx, c.ID, c.Name, c.SecretHash, string(scopes),
		c.Office, string(c.Status), formatTime(c.CreatedAt), formatTime(c.UpdatedAt)); err != nil {
		return fmt.Errorf("sqlite: PutClient %s: %w", c.ID, err)
	}
	return nil
}

func (v *txView) Client(id string) (*core.Client, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	return scanClient(v.tx.s.ws.clientByID.QueryRowContext(v.tx.ctx, id), id)
}

func (v *txView) Audit(e core.AuditEntry) error {
	if err := v.check(); err != nil {
		return err
	}
	var detail any
	if len(e.Detail) > 0 {
		detail = string(e.Detail)
	}
	if _, err := v.tx.s.ws.insertAudit.ExecContext(v.tx.ctx, formatTime(e.At), e.ActorID, string(e.ActorType),
		e.Operation, e.ObjectType, e.ObjectID, e.RemoteAddr, e.CorrelationID, detail); err != nil {
		return fmt.Errorf("sqlite: append audit entry: %w", err)
	}
	return nil
}

// inSavepoint runs fn inside SAVEPOINT op, so that a failing Tx method
// leaves nothing behind even when the caller's fn goes on and commits.
func (t *writeTx) inSavepoint(fn func(ctx context.Context) error) error {
	w := &t.s.ws
	if _, err := w.opSavepoint.ExecContext(t.ctx); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	err := fn(t.ctx)
	if err != nil {
		if _, rerr := w.opRollback.ExecContext(t.ctx); rerr != nil {
			t.poisoned = fmt.Errorf("sqlite: rollback to savepoint after %w: %w", err, rerr)
			return t.poisoned
		}
	}
	if _, rerr := w.opRelease.ExecContext(t.ctx); rerr != nil {
		t.poisoned = fmt.Errorf("sqlite: release savepoint: %w", rerr)
		if err == nil {
			err = t.poisoned
		}
	}
	return err
}

// queryEvent reads an event and its actions, in insertion order.
func queryEvent(ctx context.Context, st *sql.Stmt, id string) (*core.EventDocument, error) {
	rows, err := st.QueryContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read event %s: %w", id, err)
	}
	defer rows.Close()
	var ev *core.EventDocument
	for rows.Next() {
		var (
			typ, tracking, created, updated string
			doc                             sql.RawBytes
		)
		if err := rows.Scan(&typ, &tracking, &created, &updated, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: read event %s: %w", id, err)
		}
		if ev == nil {
			ev = &core.EventDocument{ID: id, Type: typ, TrackingID: tracking}
			if ev.CreatedAt, err = parseTime(created); err != nil {
				return nil, err
			}
			if ev.UpdatedAt, err = parseTime(updated); err != nil {
				return nil, err
			}
		}
		if doc == nil {
			continue // an event without actions: the LEFT JOIN's null row
		}
		var a core.Action
		if err := json.Unmarshal(doc, &a); err != nil {
			return nil, fmt.Errorf("sqlite: decode action of event %s: %w", id, err)
		}
		a.CreatedAt = a.CreatedAt.UTC()
		ev.Actions = append(ev.Actions, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read event %s: %w", id, err)
	}
	if ev == nil {
		return nil, fmt.Errorf("sqlite: event %s: %w", id, core.ErrNotFound)
	}
	return ev, nil
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func scanClient(r rowScanner, id string) (*core.Client, error) {
	var (
		c                      core.Client
		scopes, status, cr, up string
	)
	err := r.Scan(&c.ID, &c.Name, &c.SecretHash, &scopes, &c.Office, &status, &cr, &up)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: client %s: %w", id, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: read client %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return nil, fmt.Errorf("sqlite: decode scopes of client %s: %w", c.ID, err)
	}
	c.Status = core.ClientStatus(status)
	if c.CreatedAt, err = parseTime(cr); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = parseTime(up); err != nil {
		return nil, err
	}
	return &c, nil
}
