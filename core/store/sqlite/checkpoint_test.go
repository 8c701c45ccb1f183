package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestBackgroundCheckpoint: with the writer's autocheckpoint off, the
// checkpointer goroutine copies committed pages into the database file;
// Close stops it and leaves a file that reopens with every event.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crvshub.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	before := fi.Size()
	loadEvents(t, s, 0, 200)
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > before {
			break // pages reached the database file: a checkpoint ran
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes: no checkpoint ran", fi.Size())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.ckpt.done:
	default:
		t.Fatal("checkpointer still running after Close")
	}

	s, err = Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	var check string
	if err := s.rdb.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil {
		t.Fatal(err)
	}
	if n != 200 || check != "ok" {
		t.Fatalf("after reopen: %d events, integrity %q; want 200, ok", n, check)
	}
}
