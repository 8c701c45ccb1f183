package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"

	"github.com/crvshub/crvshub/core"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sqlite: store is closed")

// Options tunes a Store. The zero value gives the defaults.
type Options struct {
	// Synchronous is the SQLite synchronous level: "FULL" (the default: an
	// acknowledged write survives a power cut), "EXTRA", or "NORMAL" (in WAL
	// mode a power cut may lose the last commits, never corrupt the file).
	Synchronous string
	// MaxBatch caps how many Write calls share one commit. Default 256.
	MaxBatch int
	// MaxWait is how long the writer waits for more requests before
	// committing a batch that is not full. Default 0: it commits what is
	// waiting at once (requests that arrive during a commit form the next
	// batch, which is where group commit gets its batches from).
	MaxWait time.Duration
	// ReadConns caps the read-only connection pool. Default 2*GOMAXPROCS.
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by another
	// process (for instance the CLI writing while the server runs).
	// Default 5s.
	BusyTimeout time.Duration
	// CacheKiB is the page cache of each connection, in KiB. Default 0:
	// SQLite's own (2 MiB).
	CacheKiB int
	// NoMigrate opens the database without applying migrations: a schema
	// older than this program is ErrSchemaOutdated. For a process that
	// must not change the schema under a running hub (the CLI's client
	// commands while the hub holds the data folder).
	NoMigrate bool
	// OnCommit, when set, is called by the writer after each commit (the
	// hub's metrics). It runs on the writer goroutine: it must be quick.
	OnCommit func(CommitInfo)
}

// CommitInfo describes one commit of the writer.
type CommitInfo struct {
	Writes      int           // Write functions the transaction held (the batch size)
	Transaction time.Duration // BEGIN to the end of COMMIT: every savepoint and the commit
	Commit      time.Duration // the COMMIT statement alone (WAL writes and fsync)
}

// ErrSchemaOutdated: the database needs migrations this Open may not apply.
var ErrSchemaOutdated = errors.New("database schema is older than this program")

func (o Options) withDefaults() (Options, error) {
	switch s := strings.ToUpper(o.Synchronous); s {
	case "":
		o.Synchronous = "FULL"
	case "FULL", "EXTRA", "NORMAL":
		o.Synchronous = s
	default:
		return o, fmt.Errorf("sqlite: Options.Synchronous %q: want FULL, EXTRA or NORMAL", o.Synchronous)
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.MaxWait < 0 {
		o.MaxWait = 0
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 2 * runtime.GOMAXPROCS(0)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	return o, nil
}

// dsn builds the connection string. Pragmas go in _pragma parameters so
// every connection the pool opens gets them; busy_timeout comes first so
// that the others wait for a lock another process holds (except the switch
// of a new file to WAL, see connectWriter).
func dsn(path string, o Options, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
	if !readOnly {
		// Pages are SQLite's default 4096 bytes. (A page_size pragma here
		// would never apply: modernc.org/sqlite runs _pragma values in
		// alphabetical order, so journal_mode(WAL) fixes the size first;
		// 16 KiB pages forced on measured 0.72x create+notify.)
		q.Add("_pragma", "journal_mode(WAL)")
		// The checkpointer goroutine checkpoints, not the writer's COMMIT
		// (see checkpoint.go).
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	// the WAL is cut back to walLimitBytes whenever it starts over (see
	// checkpoint.go); only the writer and the checkpointer write it
	q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walLimitBytes))
	q.Add("_pragma", "synchronous("+o.Synchronous+")")
	q.Add("_pragma", "foreign_keys(1)")
	// Savepoint sub-journals and sort b-trees in memory, not temp files:
	// every Write runs in a savepoint, and with temp files each page it
	// changes costs a write(2) (about a third of a small Write's time).
	q.Add("_pragma", "temp_store(MEMORY)")
	if o.CacheKiB > 0 {
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", o.CacheKiB))
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode()
}

// Store is the SQLite core.Store. It is safe for concurrent use.
type Store struct {
	opts Options
	path string

	wdb   *sql.DB // pool of exactly one connection: the writer's
	wconn *sql.Conn
	ws    writeStmts
	rdb   *sql.DB // read-only pool
	rs    readStmts
	srch  stmtCache
	ckpt  *checkpointer // nil until Open succeeds

	// mu guards closed and the send on reqs: Write sends holding the read
	// lock, Close sets closed and closes reqs holding the write lock, so no
	// request is ever sent on a closed channel.
	mu      sync.RWMutex
	closed  bool
	reqs    chan *request
	stopped chan struct{} // closed when the writer goroutine has exited

	// aborted is set by SQLite's rollback hook on the write connection: the
	// batch's transaction was rolled back, explicitly or by SQLite itself
	// after an I/O or full-disk error.
	aborted atomic.Bool

	commits atomic.Uint64
	writes  atomic.Uint64
	// lastCommit and lastTrouble (Unix ns) feed WriteHealth.
	lastCommit, lastTrouble atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

var _ core.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path, applies any
// pending migrations and starts the writer. Close releases it.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: bad database path %q: want a plain file name without '?'", path)
	}
	s := &Store{
		opts:    o,
		path:    path,
		reqs:    make(chan *request, o.MaxBatch),
		stopped: make(chan struct{}),
	}
	if err := s.open(ctx); err != nil {
		_ = s.closeDBs()
		return nil, err
	}
	if err := s.startCheckpointer(ctx); err != nil {
		_ = s.closeDBs()
		return nil, err
	}
	go s.run()
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	var err error
	if s.wdb, err = sql.Open("sqlite", dsn(s.path, s.opts, false)); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.wconn, err = s.connectWriter(ctx); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	if err := s.wconn.Raw(func(dc any) error {
		h, ok := dc.(interface {
			RegisterRollbackHook(sqlite.RollbackHookFn)
		})
		if !ok {
			return fmt.Errorf("sqlite: driver connection %T has no rollback hook", dc)
		}
		h.RegisterRollbackHook(func() { s.aborted.Store(true) })
		return nil
	}); err != nil {
		return err
	}
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	if s.opts.NoMigrate {
		if err := checkSchema(ctx, s.wconn, ms); err != nil {
			return err
		}
	} else if err := migrate(ctx, s.wconn, ms); err != nil {
		return err
	}
	if err := s.ws.prepare(ctx, s.wconn); err != nil {
		return err
	}

	if s.rdb, err = sql.Open("sqlite", dsn(s.path, s.opts, true)); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	s.rdb.SetMaxOpenConns(s.opts.ReadConns)
	s.rdb.SetMaxIdleConns(s.opts.ReadConns)
	s.rdb.SetConnMaxLifetime(0)
	s.rdb.SetConnMaxIdleTime(0)
	if err := s.rs.prepare(ctx, s.rdb); err != nil {
		return err
	}
	s.srch.init(s.rdb, 512)
	return nil
}

// connectWriter opens the write connection. Switching a new file to WAL
// takes an exclusive lock without going through SQLite's busy handler, so
// two processes creating the same file at once can see SQLITE_BUSY here:
// retry that until BusyTimeout.
func (s *Store) connectWriter(ctx context.Context) (*sql.Conn, error) {
	deadline := time.Now().Add(s.opts.BusyTimeout)
	wait := 5 * time.Millisecond
	for {
		c, err := s.wdb.Conn(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Stats counts the writer's work since Open.
type Stats struct {
	Commits uint64 // COMMITs run (each is one fsync with synchronous=FULL)
	Writes  uint64 // Write functions run
}

// Stats reports how much the writer has batched: Writes/Commits is the mean
// batch size.
func (s *Store) Stats() Stats {
	return Stats{Commits: s.commits.Load(), Writes: s.writes.Load()}
}

// Close stops accepting writes, lets the writer finish the requests already
// queued, and closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.reqs)
		s.mu.Unlock()
		<-s.stopped
		s.closeErr = errors.Join(s.stopCheckpointer(), s.closeDBs())
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	s.srch.close()
	errs = append(errs, s.rs.close(), s.ws.close())
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}
