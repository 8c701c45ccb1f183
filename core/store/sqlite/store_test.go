package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/crvshub/crvshub/core"
)

func client(id string) *core.Client {
	now := time.Now()
	return &core.Client{ID: id, Name: id, SecretHash: "h", Scopes: []string{"a"}, Status: core.ClientActive,
		CreatedAt: now, UpdatedAt: now}
}

func putClient(t *testing.T, s *Store, id string) {
	t.Helper()
	if err := s.Write(context.Background(), func(tx core.Tx) error { return tx.PutClient(client(id)) }); err != nil {
		t.Fatal(err)
	}
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), Options{Synchronous: "OFF"}); err == nil {
		t.Error("Synchronous OFF accepted")
	}
	for _, p := range []string{"", "x.db?mode=ro", "file:x.db"} {
		if _, err := Open(ctx, p, Options{}); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
	for _, tc := range []struct {
		sync string
		want int // PRAGMA synchronous: 1 NORMAL, 2 FULL, 3 EXTRA
	}{{"", 2}, {"full", 2}, {"NORMAL", 1}, {"EXTRA", 3}} {
		s := openTemp(t, Options{Synchronous: tc.sync, BusyTimeout: 1234 * time.Millisecond})
		// Every connection of both pools carries the pragmas.
		check := func(name, pragma string, want any) {
			t.Helper()
			var got any
			var err error
			if name == "write" {
				err = s.wconn.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got)
			} else {
				err = s.rdb.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got)
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s %q: %s = %v, want %v", name, tc.sync, pragma, got, want)
			}
		}
		for _, pool := range []string{"write", "read"} {
			check(pool, "journal_mode", "wal")
			check(pool, "synchronous", tc.want)
			check(pool, "foreign_keys", 1)
			check(pool, "busy_timeout", 1234)
		}
		check("write", "query_only", 0)
		check("read", "query_only", 1)
		check("write", "temp_store", 2)    // MEMORY
		check("read", "cache_size", -2000) // SQLite's default
		if _, err := s.rdb.ExecContext(ctx, "DELETE FROM clients"); err == nil {
			t.Error("read pool accepts writes")
		}
		s.Close()
	}
}

func TestCacheKiB(t *testing.T) {
	s := openTemp(t, Options{CacheKiB: 65536})
	defer s.Close()
	for _, db := range []interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}{s.wconn, s.rdb} {
		var got int
		if err := db.QueryRowContext(context.Background(), "PRAGMA cache_size").Scan(&got); err != nil || got != -65536 {
			t.Errorf("cache_size = %d, %v; want -65536", got, err)
		}
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	loadEvents(t, s, 0, 10)
	putClient(t, s, "c1")
	applied := migrationRows(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := migrationRows(t, s); fmt.Sprint(got) != fmt.Sprint(applied) {
		t.Errorf("reopen changed schema_migrations: %v, was %v", got, applied)
	}
	if _, err := s.Client(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	id, err := s.EventIDByTrackingID(ctx, benchTrackingID(7))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.Event(ctx, id)
	if err != nil || len(ev.Actions) != 3 {
		t.Fatalf("event after reopen: %+v, %v", ev, err)
	}
	p, err := s.Search(ctx, core.SearchFilter{Limit: 100})
	if err != nil || p.Total != 10 {
		t.Fatalf("search after reopen: total %d, %v", p.Total, err)
	}
	// And it is writable.
	loadEvents(t, s, 10, 11)
}

// migrationRows lists schema_migrations as "version@applied_at".
func migrationRows(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.rdb.Query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v int
		var at string
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d@%s", v, at))
	}
	return out
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if got := migrationRows(t, s); len(got) != len(ms) || !strings.HasPrefix(got[0], "1@") {
		t.Fatalf("schema_migrations = %v, want %d versions", got, len(ms))
	}
	before := migrationRows(t, s)

	// Re-running the same list applies nothing (0001 has CREATE TABLE
	// without IF NOT EXISTS: running it twice would fail).
	if err := migrate(ctx, s.wconn, ms); err != nil {
		t.Fatal(err)
	}
	// A new migration is applied once, and only it.
	next := append(ms[:len(ms):len(ms)], migration{version: len(ms) + 1, name: "next.sql", sql: "CREATE TABLE extra (x INTEGER)"})
	if err := migrate(ctx, s.wconn, next); err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, s.wconn, next); err != nil {
		t.Fatal(err)
	}
	after := migrationRows(t, s)
	if len(after) != len(before)+1 || fmt.Sprint(after[:len(before)]) != fmt.Sprint(before) {
		t.Fatalf("schema_migrations = %v, want %v plus one", after, before)
	}
	if _, err := s.rdb.ExecContext(ctx, "SELECT x FROM extra"); err != nil {
		t.Errorf("new migration not applied: %v", err)
	}
	// A failing migration rolls back entirely: neither its statements nor
	// its version row stay.
	bad := append(next[:len(next):len(next)], migration{version: len(next) + 1, name: "bad.sql",
		sql: "CREATE TABLE half (x INTEGER); SELECT * FROM no_such_table"})
	if err := migrate(ctx, s.wconn, bad); err == nil {
		t.Fatal("failing migration reported success")
	}
	if got := migrationRows(t, s); len(got) != len(after) {
		t.Errorf("failed migration recorded: %v", got)
	}
	if _, err := s.rdb.ExecContext(ctx, "SELECT x FROM half"); err == nil {
		t.Error("failed migration left its table")
	}
	// This program refuses a database from a newer one.
	if err := migrate(ctx, s.wconn, ms); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("older migration list on a newer database: %v", err)
	}
	// The connection is usable (no transaction left open).
	putClient(t, s, "c1")
}

func TestLoadMigrations(t *testing.T) {
	for name, files := range map[string]fstest.MapFS{
		"Gap":     {"m/0001_a.sql": {Data: []byte("x")}, "m/0003_c.sql": {Data: []byte("x")}},
		"NoNum":   {"m/init.sql": {Data: []byte("x")}},
		"Zero":    {"m/0000_a.sql": {Data: []byte("x")}},
		"Doubled": {"m/0001_a.sql": {Data: []byte("x")}, "m/0001_b.sql": {Data: []byte("x")}},
	} {
		if _, err := loadMigrations(files, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ms, err := loadMigrations(fstest.MapFS{"m/0002_b.sql": {Data: []byte("B")}, "m/0001_a.sql": {Data: []byte("A")},
		"m/README": {Data: []byte("not sql")}}, "m")
	if err != nil || len(ms) != 2 || ms[0].sql != "A" || ms[1].version != 2 {
		t.Errorf("loadMigrations = %+v, %v", ms, err)
	}
}

// TestConcurrentOpen opens one new file from many goroutines at once, as
// two processes starting together would: every Open succeeds and each
// migration is applied exactly once.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), path, Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	ms, _ := loadMigrations(migrationFiles, "migrations")
	if got := migrationRows(t, stores[0]); len(got) != len(ms) {
		t.Errorf("schema_migrations = %v, want %d rows", got, len(ms))
	}
	// All of them can write and see each other's writes.
	for i, s := range stores {
		putClient(t, s, fmt.Sprintf("c%d", i))
	}
	cs, err := stores[n-1].Clients(context.Background())
	if err != nil || len(cs) != n {
		t.Errorf("Clients = %d, %v; want %d", len(cs), err, n)
	}
}

// TestTwoStoresOneFile is the server and the CLI on one file: writes made
// through one Store are read through the other, in both directions, while
// both write concurrently.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	server, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cli, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	putClient(t, cli, "c1")
	got, err := server.Client(ctx, "c1")
	if err != nil || got.ID != "c1" {
		t.Fatalf("server reads the CLI's client: %+v, %v", got, err)
	}
	upd := client("c1")
	upd.Status = core.ClientDisabled
	if err := cli.Write(ctx, func(tx core.Tx) error { return tx.PutClient(upd) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := server.Client(ctx, "c1"); got.Status != core.ClientDisabled {
		t.Errorf("server sees status %q after the CLI disabled the client", got.Status)
	}

	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 40 {
		wg.Go(func() {
			s := server
			if i%2 == 1 {
				s = cli
			}
			if err := s.Write(ctx, func(tx core.Tx) error { return tx.PutClient(client(fmt.Sprintf("x%d", i))) }); err != nil {
				t.Errorf("write %d: %v", i, err)
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	for _, s := range []*Store{server, cli} {
		if cs, err := s.Clients(ctx); err != nil || len(cs) != 41 {
			t.Errorf("Clients = %d, %v; want 41", len(cs), err)
		}
	}
}

// TestGroupCommitBatches checks that concurrent writers share commits.
func TestGroupCommitBatches(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	const n = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			if err := s.Write(context.Background(), func(tx core.Tx) error { return tx.PutClient(client(fmt.Sprint(i))) }); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	st := s.Stats()
	t.Logf("%d writes in %d commits", st.Writes, st.Commits)
	if st.Writes != n {
		t.Errorf("writes = %d, want %d", st.Writes, n)
	}
	if st.Commits >= st.Writes {
		t.Errorf("no batching: %d commits for %d writes", st.Commits, st.Writes)
	}
	if cs, _ := s.Clients(context.Background()); len(cs) != n {
		t.Errorf("%d clients stored, want %d", len(cs), n)
	}
}

// holdWriter blocks the writer goroutine inside a Write until the returned
// release function is called, so that later Writes queue up and are then
// taken as one batch.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(context.Background(), func(tx core.Tx) error {
			close(entered)
			<-gate
			return nil
		})
	}()
	<-entered
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("holding write: %v", err)
		}
	}
}

// waitQueued waits until n requests wait for the writer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", len(s.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBatchIsolation puts 50 writes, a third of them failing and some
// panicking, into one batch: exactly one commit, and only the failures are
// rolled back.
func TestBatchIsolation(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	release := holdWriter(t, s)
	before := s.Stats()
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	boom := errors.New("boom")
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(ctx, func(tx core.Tx) error {
				if err := tx.PutClient(client(fmt.Sprint(i))); err != nil {
					return err
				}
				switch i % 6 {
				case 0:
					return boom
				case 3:
					panic("boom")
				}
				// A failed request's work is never visible to the others,
				// whichever ran first.
				if _, err := tx.Client(fmt.Sprint(i - i%6)); !errors.Is(err, core.ErrNotFound) {
					return fmt.Errorf("saw a rolled-back client: %v", err)
				}
				return nil
			})
		})
	}
	waitQueued(t, s, n)
	release()
	wg.Wait()
	after := s.Stats()
	// The held write was counted when it started; its commit and the
	// batch's are the two commits.
	if c, w := after.Commits-before.Commits, after.Writes-before.Writes; c != 2 || w != n {
		t.Errorf("%d commits for %d writes, want 2 for %d (the held write's, then one batch)", c, w, n)
	}
	for i, err := range errs {
		_, cerr := s.Client(ctx, fmt.Sprint(i))
		switch i % 6 {
		case 0:
			if !errors.Is(err, boom) || !errors.Is(cerr, core.ErrNotFound) {
				t.Errorf("write %d: %v, client: %v", i, err, cerr)
			}
		case 3:
			var pe *PanicError
			if !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 || !errors.Is(cerr, core.ErrNotFound) {
				t.Errorf("panicking write %d: %v, client: %v", i, err, cerr)
			}
		default:
			if err != nil || cerr != nil {
				t.Errorf("write %d: %v, client: %v", i, err, cerr)
			}
		}
	}
}

// TestCancelWhileQueued cancels a Write that waits for the writer: it
// returns ctx.Err() and its fn never runs.
func TestCancelWhileQueued(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	errc := make(chan error, 1)
	go func() {
		errc <- s.Write(ctx, func(tx core.Tx) error { ran.Store(true); return tx.PutClient(client("c")) })
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Write = %v, want context.Canceled", err)
	}
	release()
	putClient(t, s, "after") // the writer has skipped the abandoned request
	if ran.Load() {
		t.Error("fn of a cancelled request ran")
	}
	if _, err := s.Client(context.Background(), "c"); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("cancelled write stored its client: %v", err)
	}
}

// TestCommitFailure makes the COMMIT itself fail (a deferred foreign key
// violation): every caller of the batch gets an error and nothing of the
// batch is stored.
func TestCommitFailure(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	release := holdWriter(t, s)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(ctx, func(tx core.Tx) error {
				if err := tx.PutClient(client(fmt.Sprint(i))); err != nil {
					return err
				}
				if i == n/2 {
					wt := tx.(*txView).tx
					if _, err := wt.s.wconn.ExecContext(wt.ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
						return err
					}
					_, err := wt.s.wconn.ExecContext(wt.ctx,
						"INSERT INTO event_actions (event_id, id, type, status, doc) VALUES ('nope', 'a', 'T', 'S', '{}')")
					return err
				}
				return nil
			})
		})
	}
	waitQueued(t, s, n)
	release()
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("write %d: nil error although the commit failed", i)
		}
		if _, cerr := s.Client(ctx, fmt.Sprint(i)); !errors.Is(cerr, core.ErrNotFound) {
			t.Errorf("client %d stored although the commit failed", i)
		}
	}
	putClient(t, s, "after") // usable again
}

// TestAbortedTransaction has one fn roll the whole batch transaction back
// behind the writer's back (as SQLite does after some I/O errors): later
// functions must not run in autocommit mode, and no caller may be told its
// work was stored.
func TestAbortedTransaction(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	release := holdWriter(t, s)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Write(ctx, func(tx core.Tx) error {
				if err := tx.PutClient(client(fmt.Sprint(i))); err != nil {
					return err
				}
				if i == n/2 {
					wt := tx.(*txView).tx
					_, err := wt.s.wconn.ExecContext(wt.ctx, "ROLLBACK")
					if err != nil {
						return err
					}
					// Tx methods refuse to run outside the transaction.
					if err := tx.PutClient(client("autocommitted")); err == nil {
						return errors.New("PutClient ran after the rollback")
					}
				}
				return nil
			})
		})
	}
	waitQueued(t, s, n)
	release()
	wg.Wait()
	stored := 0
	for i, err := range errs {
		_, cerr := s.Client(ctx, fmt.Sprint(i))
		if cerr == nil {
			stored++
			if err != nil {
				t.Errorf("write %d failed (%v) but its client is stored", i, err)
			}
		} else if err == nil {
			t.Errorf("write %d succeeded but its client is missing", i)
		}
	}
	if stored != 0 {
		t.Errorf("%d clients of the aborted batch stored", stored)
	}
	if _, err := s.Client(ctx, "autocommitted"); !errors.Is(err, core.ErrNotFound) {
		t.Error("a statement ran in autocommit mode after the abort")
	}
	putClient(t, s, "after")
}

func TestTxAfterFn(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	var kept core.Tx
	if err := s.Write(context.Background(), func(tx core.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := kept.PutClient(client("late")); !errors.Is(err, errTxDone) {
		t.Errorf("Tx used after fn: %v", err)
	}
}

func TestMaxWait(t *testing.T) {
	s := openTemp(t, Options{MaxWait: 20 * time.Millisecond, MaxBatch: 8})
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() { putClient(t, s, fmt.Sprint(i)) })
	}
	wg.Wait()
	st := s.Stats()
	if st.Writes != 16 || st.Commits > 8 {
		t.Errorf("stats %+v: want 16 writes in at most 8 commits", st)
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	s := openTemp(t, Options{})
	release := holdWriter(t, s)
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Write(context.Background(), func(tx core.Tx) error { return tx.PutClient(client(fmt.Sprint(i))) })
		}()
	}
	waitQueued(t, s, n)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(10 * time.Millisecond) // let Close start waiting
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("queued write: %v", err) // accepted before Close: committed
		}
	}
	if err := s.Write(context.Background(), func(core.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if _, err := os.Stat(s.path); err != nil {
		t.Fatal(err)
	}
}
