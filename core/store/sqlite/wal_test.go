package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

// walSize is the size of the store's WAL file (0 when absent).
func walSize(t *testing.T, s *Store) int64 {
	t.Helper()
	fi, err := os.Stat(s.path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// waitWALBounded polls (up to a minute) until the WAL is at most
// walLimitBytes.
func waitWALBounded(t *testing.T, s *Store, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for walSize(t, s) > walLimitBytes {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 1 min waiting for the WAL %s to shrink: %d bytes, limit %d", what, walSize(t, s), walLimitBytes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWALBoundedAfterBurst: a reader pinning an old snapshot lets the WAL
// grow past its limit during a burst of writes; once the reader is gone
// the WAL goes back under the limit by itself, with no further write.
func TestWALBoundedAfterBurst(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "crvshub.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rtx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rtx.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil { // takes the snapshot
		t.Fatal(err)
	}
	for from := 0; walSize(t, s) <= walLimitBytes; from += 200 {
		if from > 100_000 {
			t.Fatalf("the WAL did not pass %d bytes", walLimitBytes)
		}
		loadEvents(t, s, from, from+200)
	}
	t.Logf("WAL %d bytes during the burst", walSize(t, s))
	if err := rtx.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitWALBounded(t, s, "after the burst")
}

// TestWALTruncatedAfterWriteFailure: a transaction that fails for lack of
// storage (SQLITE_FULL from max_page_count, as a full disk gives) after
// spilling its pages into the WAL leaves them there; the store truncates
// the WAL right after the failure (space back on a full disk).
func TestWALTruncatedAfterWriteFailure(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "crvshub.db"), Options{CacheKiB: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exec := func(q string) error {
		return s.Write(ctx, func(tx core.Tx) error {
			_, err := tx.(*txView).tx.exec(q)
			return err
		})
	}
	var pages int
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// room for 1024 pages more: the write below spills into the WAL
	// before it fails
	if err := exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+1024)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 256<<10)
	err = s.Write(ctx, func(tx core.Tx) error {
		for i := range 100 { // 25 MiB
			c := client(fmt.Sprintf("c-big-%d", i))
			c.Name = big
			if err := tx.PutClient(c); err != nil {
				return err
			}
		}
		return nil
	})
	if core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("write into a full database: %v (kind %v), want unavailable", err, core.KindOf(err))
	}
	// truncated to nothing (without the write failure's checkpoint the
	// spilled pages, megabytes, stay until the WAL reaches the limit)
	deadline := time.Now().Add(time.Minute)
	for walSize(t, s) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 1 min waiting for the WAL to be truncated after the failed write: %d bytes", walSize(t, s))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	putClient(t, s, "c-small")
}
