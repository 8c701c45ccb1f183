package sqlite

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/crvshub/crvshub/core"
)

// timeLayout is RFC 3339 in UTC with a fixed nine-digit fraction: unlike
// time.RFC3339Nano it never drops trailing zeros, so stored timestamps
// compare correctly as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// formatTime renders t for storage.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// parseTime reads a stored timestamp back, in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: bad stored timestamp %q: %w", s, err)
	}
	return t.UTC(), nil
}

// nullTime renders an optional timestamp.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// nullString stores "" as NULL, for columns that are unique when set.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isBusy reports whether err is SQLITE_BUSY (or one of its extended codes).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// constraintKind classifies a failed statement.
type constraintKind int

const (
	notConstraint constraintKind = iota
	uniqueViolation
	foreignKeyViolation
	otherConstraint
)

// constraint reports whether err is an SQLite constraint violation, which
// kind, and the constraint's columns as SQLite names them
// ("events.tracking_id" or "events.transaction_id, events.type").
func constraint(err error) (constraintKind, string) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return notConstraint, ""
	}
	msg := se.Error()
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		// "constraint failed: UNIQUE constraint failed: events.transaction_id,
		// events.type (2067)"
		const marker = "constraint failed: "
		i := strings.LastIndex(msg, marker)
		if i < 0 {
			return uniqueViolation, ""
		}
		cols := msg[i+len(marker):]
		if j := strings.LastIndex(cols, " ("); j >= 0 {
			cols = cols[:j]
		}
		return uniqueViolation, cols
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return foreignKeyViolation, ""
	}
	if se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return otherConstraint, ""
	}
	return notConstraint, ""
}

// mapInsertError turns a constraint violation from inserting an event or its
// actions into the core sentinel it stands for.
func mapEventError(err error, eventID string) error {
	kind, cols := constraint(err)
	switch kind {
	case uniqueViolation:
		switch cols {
		case "events.tracking_id":
			return fmt.Errorf("sqlite: event %s: %w", eventID, core.ErrTrackingIDTaken)
		case "events.id", "events.transaction_id, events.type":
			return fmt.Errorf("sqlite: event %s (%s): %w", eventID, cols, core.ErrDuplicate)
		case "event_actions.id", "event_actions.transaction_id, event_actions.type, event_actions.status":
			return fmt.Errorf("sqlite: action of event %s (%s): %w", eventID, cols, core.ErrDuplicate)
		case "events_index.registration_number":
			return fmt.Errorf("sqlite: event %s: %w", eventID, core.ErrRegistrationNumberTaken)
		}
		return fmt.Errorf("sqlite: event %s (%s): %w", eventID, cols, core.ErrDuplicate)
	case foreignKeyViolation:
		return fmt.Errorf("sqlite: event %s: %w", eventID, core.ErrNotFound)
	}
	return fmt.Errorf("sqlite: event %s: %w", eventID, err)
}
