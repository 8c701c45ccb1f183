package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/crvshub/crvshub/core"
)

// storageTrouble reports whether err is SQLite saying it cannot write now
// (disk full, I/O error, read-only file, locked by another process past the
// busy timeout): the request was fine and may succeed later.
func storageTrouble(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// unavailable turns storage trouble into a core.KindUnavailable error (503,
// retry later: nothing was written) and remembers when it happened for
// WriteHealth; other errors pass through.
func (s *Store) unavailable(err error) error {
	if err == nil || !storageTrouble(err) {
		return err
	}
	s.lastTrouble.Store(time.Now().UnixNano())
	s.ckpt.afterWriteFailure()
	return storeUnavailable("The hub cannot write to its database right now (disk full, read-only or busy); nothing was written, retry later", err)
}

// unreadable is unavailable for reads: a read that fails for storage
// trouble (I/O error, busy or locked past the busy timeout, file not
// openable) or because the store is closed (shutting down) is a
// core.KindUnavailable error (503, retry later); other errors pass
// through. It leaves WriteHealth alone: a read changes nothing.
func (s *Store) unreadable(err error) error {
	if err == nil || errors.Is(err, core.ErrNotFound) ||
		!(storageTrouble(err) || errors.Is(err, sql.ErrConnDone) || s.isClosed()) {
		return err
	}
	return storeUnavailable("The hub cannot read its database right now; retry later", err)
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

func storeUnavailable(msg string, err error) error {
	return &core.Error{Kind: core.KindUnavailable, Code: "STORE_UNAVAILABLE", Message: msg, Err: err}
}

// WriteHealth says whether writes work: an error when the last write failed
// for lack of storage and no commit has succeeded since (a readiness probe
// then takes the hub out of a load balancer until space is back).
func (s *Store) WriteHealth() error {
	t, ok := s.lastTrouble.Load(), s.lastCommit.Load()
	if t != 0 && t > ok {
		return fmt.Errorf("sqlite: the last write failed for lack of storage at %s", time.Unix(0, t).UTC().Format(time.RFC3339))
	}
	return nil
}
