package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/crvshub/crvshub/core"
)

// Event returns the event with all its actions, in insertion order.
func (s *Store) Event(ctx context.Context, id string) (*core.EventDocument, error) {
	return queryEvent(ctx, s.rs.eventByID, id)
}

// EventIDByTrackingID returns the id of the event with this tracking id.
func (s *Store) EventIDByTrackingID(ctx context.Context, trackingID string) (string, error) {
	var id string
	err := s.rs.eventIDByTracking.QueryRowContext(ctx, trackingID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlite: tracking id %s: %w", trackingID, core.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: event by tracking id: %w", err)
	}
	return id, nil
}

// Client returns one system client.
func (s *Store) Client(ctx context.Context, id string) (*core.Client, error) {
	c, err := scanClient(s.rs.clientByID.QueryRowContext(ctx, id), id)
	return c, s.unreadable(err)
}

// Clients lists every system client, oldest first.
func (s *Store) Clients(ctx context.Context) ([]core.Client, error) {
	rows, err := s.rs.clients.QueryContext(ctx)
	if err != nil {
		return nil, s.unreadable(fmt.Errorf("sqlite: list clients: %w", err))
	}
	defer rows.Close()
	var cs []core.Client
	for rows.Next() {
		c, err := scanClient(rows, "")
		if err != nil {
			return nil, s.unreadable(err)
		}
		cs = append(cs, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.unreadable(fmt.Errorf("sqlite: list clients: %w", err))
	}
	return cs, nil
}

// Audit lists audit entries, oldest first.
func (s *Store) Audit(ctx context.Context, f core.AuditFilter) ([]core.AuditEntry, error) {
	limit := int64(-1) // SQLite: no limit
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	var (
		which int
		args  []any
	)
	if f.ObjectID != "" {
		which |= 1
		args = append(args, f.ObjectID)
	}
	if f.ActorID != "" {
		which |= 2
		args = append(args, f.ActorID)
	}
	rows, err := s.rs.audit[which].QueryContext(ctx, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	defer rows.Close()
	var es []core.AuditEntry
	for rows.Next() {
		var (
			e         core.AuditEntry
			at, actor string
			detail    sql.NullString
		)
		if err := rows.Scan(&e.Seq, &at, &e.ActorID, &actor, &e.Operation, &e.ObjectType, &e.ObjectID,
			&e.RemoteAddr, &e.CorrelationID, &detail); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: %w", err)
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, err
		}
		e.ActorType = core.UserType(actor)
		if detail.Valid {
			e.Detail = []byte(detail.String)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return es, nil
}
