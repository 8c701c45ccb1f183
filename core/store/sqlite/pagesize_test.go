package sqlite

import (
	"context"
	"testing"
)

// TestPageSizeIsSQLitesDefault: a new database has the 4096-byte pages the
// store's comments claim. (It once set page_size(16384) in the DSN, which
// never applied: the driver runs _pragma values in alphabetical order and
// journal_mode(WAL) fixed the size first.)
func TestPageSizeIsSQLitesDefault(t *testing.T) {
	s := openTemp(t, Options{})
	ctx := context.Background()
	for name, row := range map[string]interface{ Scan(...any) error }{
		"write": s.wconn.QueryRowContext(ctx, "PRAGMA page_size"),
		"read":  s.rdb.QueryRowContext(ctx, "PRAGMA page_size"),
	} {
		var n int
		if err := row.Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 4096 {
			t.Errorf("%s connection: page_size %d, want 4096", name, n)
		}
	}
}
