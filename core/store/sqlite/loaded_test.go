package sqlite

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// loadedDBs caches database files holding events 0..n-1 (loadEvents), one
// per n, built once per test binary: loading 1,000 events costs tens of
// seconds under -race, and several tests search the same data. Each test
// gets its own copy (ANALYZE or deletions in one never reach another).
var loadedDBs struct {
	mu    sync.Mutex
	dir   string
	files map[int]string
}

// openLoaded opens a copy of a database holding events 0..n-1. The store
// is closed at test end.
func openLoaded(t *testing.T, n int) *Store {
	t.Helper()
	src := loadedDB(t, n)
	dst := filepath.Join(t.TempDir(), "crvshub.db")
	if err := copyFile(src, dst); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func loadedDB(t *testing.T, n int) string {
	t.Helper()
	loadedDBs.mu.Lock()
	defer loadedDBs.mu.Unlock()
	if path, ok := loadedDBs.files[n]; ok {
		return path
	}
	if loadedDBs.dir == "" {
		dir, err := os.MkdirTemp("", "crvshub-sqlite-test-")
		if err != nil {
			t.Fatal(err)
		}
		loadedDBs.dir, loadedDBs.files = dir, map[int]string{}
	}
	dir, err := os.MkdirTemp(loadedDBs.dir, "loaded-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "crvshub.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	loadEvents(t, s, 0, n)
	if err := s.Close(); err != nil { // the last connection's close checkpoints the WAL into the file
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatalf("%s-wal left after Close: the copy would miss its commits", path)
	}
	loadedDBs.files[n] = path
	return path
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
