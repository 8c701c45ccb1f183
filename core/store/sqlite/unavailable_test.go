package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// TestStorageTroubleIsUnavailable: a write that fails because the database
// cannot grow (SQLite's SQLITE_FULL, here from max_page_count, as a full
// disk gives) is a KindUnavailable error (503: retry later, nothing
// written), WriteHealth reports it until a commit succeeds again.
func TestStorageTroubleIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pragma := func(q string) {
		t.Helper()
		if err := s.Write(ctx, func(tx core.Tx) error {
			_, err := tx.(*txView).tx.exec(q)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var pages int
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	pragma(fmt.Sprintf("PRAGMA max_page_count = %d", pages))
	if err := s.WriteHealth(); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	big := strings.Repeat("x", 64<<10)
	err = s.Write(ctx, func(tx core.Tx) error {
		c := client("c-big")
		c.Name = big
		return tx.PutClient(c)
	})
	if core.KindOf(err) != core.KindUnavailable {
		t.Fatalf("write into a full database: %v (kind %v), want unavailable", err, core.KindOf(err))
	}
	if err := s.WriteHealth(); err == nil {
		t.Fatal("WriteHealth after a failed write: nil")
	}
	if _, err := s.Client(ctx, "c-big"); err == nil {
		t.Fatal("the failed write left its client")
	}
	pragma("PRAGMA max_page_count = 1073741823")
	putClient(t, s, "c-small")
	if err := s.WriteHealth(); err != nil {
		t.Fatalf("WriteHealth after a commit: %v", err)
	}
}

// TestReadsOfClientsWhenClosed: reading clients from a closed store (the
// hub shutting down under a request) is a KindUnavailable error (503,
// retry later), not an internal one; an unknown client of an open store
// stays not found.
func TestReadsOfClientsWhenClosed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	putClient(t, s, "c1")
	if _, err := s.Client(ctx, "nobody"); !errors.Is(err, core.ErrNotFound) || core.KindOf(err) == core.KindUnavailable {
		t.Fatalf("unknown client: %v, want not found", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Client(ctx, "c1")
	if core.KindOf(err) != core.KindUnavailable {
		t.Errorf("Client after Close: %v (kind %v), want unavailable", err, core.KindOf(err))
	}
	_, err = s.Clients(ctx)
	if core.KindOf(err) != core.KindUnavailable {
		t.Errorf("Clients after Close: %v (kind %v), want unavailable", err, core.KindOf(err))
	}
}
