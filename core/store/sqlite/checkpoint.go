package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"
)

// Checkpoints run off the writer goroutine: the write connection has
// wal_autocheckpoint=0 (see dsn), and a checkpointer goroutine on its own
// connection copies the WAL back into the database file. With SQLite's
// automatic checkpoint the COMMIT that crosses the threshold runs the
// checkpoint, so the writer, the store's one serial resource, spent its
// time copying pages instead of running the next batch.
const (
	// checkpointEvery is how often the checkpointer runs a PASSIVE
	// checkpoint (which never waits for, nor blocks, readers or the writer).
	checkpointEvery = 100 * time.Millisecond
	// walLimitBytes bounds the WAL file. Once it is this big and fully
	// checkpointed, a TRUNCATE checkpoint (which waits for the writer's
	// current transaction, then blocks it briefly) shrinks it back to
	// zero; and the connections' journal_size_limit makes the writer cut
	// it back to this size whenever it starts the WAL over. The writer
	// reuses a fully checkpointed WAL from its start, so the file only
	// grows past this when readers pin old snapshots for long or a
	// failed transaction spilled into it; without the bound a burst left
	// a WAL several times the database's size for good (and on a small
	// volume the WAL alone filled the disk).
	walLimitBytes = 8 << 20
	// kickWait bounds the TRUNCATE checkpoint run after a write failure.
	kickWait = 10 * time.Second
)

// checkpointer is the checkpoint goroutine's state.
type checkpointer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{} // a write failed: checkpoint and truncate now
}

// afterWriteFailure asks the checkpointer for a TRUNCATE checkpoint now:
// a write that failed for lack of storage may have left its spilled pages
// in the WAL, and giving that space back may be what lets writes work
// again. It never blocks; nil-safe.
func (c *checkpointer) afterWriteFailure() {
	if c == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// startCheckpointer opens the checkpoint connection and starts the
// goroutine; stopCheckpointer ends it.
func (s *Store) startCheckpointer(ctx context.Context) error {
	db, err := sql.Open("sqlite", dsn(s.path, s.opts, false))
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	s.ckpt = &checkpointer{db: db, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1)}
	go s.ckpt.run(cctx, s.path+"-wal")
	return nil
}

// stopCheckpointer stops the goroutine (interrupting a checkpoint in
// progress, which SQLite resumes at the next one) and closes its
// connection. Closing the last connection checkpoints what is left.
func (s *Store) stopCheckpointer() error {
	if s.ckpt == nil {
		return nil
	}
	s.ckpt.cancel()
	<-s.ckpt.done
	return s.ckpt.db.Close()
}

func (c *checkpointer) run(ctx context.Context, walPath string) {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			kctx, cancel := context.WithTimeout(ctx, kickWait)
			_, _ = c.db.ExecContext(kctx, "PRAGMA wal_checkpoint(TRUNCATE)")
			cancel()
			continue
		case <-t.C:
		}
		// Errors are retried at the next tick: a failed checkpoint loses
		// nothing, the WAL just stays longer.
		var busy, log, done int
		if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
			continue
		}
		if busy != 0 || log <= 0 || done < log {
			continue
		}
		if fi, err := os.Stat(walPath); err == nil && fi.Size() >= walLimitBytes {
			_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		}
	}
}
