package durability_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/crvshub/crvshub/hub/app"
)

// sqliteTune, while set, is applied by a driver connection hook to every
// SQLite connection opened from then on, the store's included. It lets
// the search data load fast and lets the what-if benchmarks measure what
// a store setting would change, without touching the store's code. The
// durability tests never set it.
type sqliteTune struct {
	CacheKiB int64 // PRAGMA cache_size = -CacheKiB on every connection (0: leave)
	// WriterAutoCheckpoint sets PRAGMA wal_autocheckpoint on the write
	// connection (the one without query_only); -1 leaves it.
	WriterAutoCheckpoint int
	Synchronous          string // PRAGMA synchronous on every connection ("": leave)
}

var tune atomic.Pointer[sqliteTune]

func init() {
	sqlite.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, dsn string) error {
		t := tune.Load()
		if t == nil {
			return nil
		}
		var pragmas []string
		if t.CacheKiB > 0 {
			pragmas = append(pragmas, fmt.Sprintf("PRAGMA cache_size = -%d", t.CacheKiB))
		}
		if t.Synchronous != "" {
			pragmas = append(pragmas, "PRAGMA synchronous = "+t.Synchronous)
		}
		if t.WriterAutoCheckpoint >= 0 && !strings.Contains(dsn, "query_only") {
			pragmas = append(pragmas, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", t.WriterAutoCheckpoint))
		}
		for _, p := range pragmas {
			if _, err := c.ExecContext(context.Background(), p, nil); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
}

// withTune sets t for connections opened until the returned func runs.
func withTune(t sqliteTune) (restore func()) {
	tune.Store(&t)
	return func() { tune.Store(nil) }
}

// startCheckpointer runs PASSIVE checkpoints of the hub's database every
// interval from its own connection, as a background checkpointer in the
// store would (with the writer's autocheckpoint off, the writer then only
// appends to the WAL). It stops at test end.
func startCheckpointer(tb testing.TB, dataDir string, interval time.Duration) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "synchronous(FULL)")
	db, err := sql.Open("sqlite", filepath.Join(dataDir, app.DBFile)+"?"+q.Encode())
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && ctx.Err() == nil {
					tb.Errorf("checkpoint: %v", err)
					return
				}
			}
		}
	}()
	tb.Cleanup(func() {
		cancel()
		wg.Wait()
		db.Close()
	})
}
