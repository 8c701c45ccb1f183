package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/crvshub/crvshub/core"
)

// Request states. A request is pending until either the writer takes it
// (and will answer it) or its caller gives up on it (and the writer will
// skip it); whoever moves it out of pending first decides.
const (
	reqPending int32 = iota
	reqTaken
	reqAbandoned
)

// request is one Write call waiting for the writer.
type request struct {
	ctx   context.Context
	fn    func(core.Tx) error
	state atomic.Int32
	err   error         // fn's error, or the batch's
	done  chan struct{} // closed when err is final
}

// PanicError is returned by Write when the function panicked. The panic is
// contained: only that caller's work is rolled back.
type PanicError struct {
	Value any    // what fn panicked with
	Stack []byte // the goroutine's stack at the panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("sqlite: write function panicked: %v", e.Value)
}

// errAborted is what a caller gets when its batch's transaction was rolled
// back under it (by SQLite after an I/O error, or by a misbehaving fn).
var errAborted = errors.New("sqlite: write transaction was rolled back")

// Write runs fn in a write transaction and returns once its work is durable
// (nil) or rolled back (fn's error, or the error that stopped the commit).
// fn may share the transaction with other callers' functions, each in its
// own savepoint; it runs exactly once, on the writer goroutine, and must
// not keep tx after it returns, nor call Write (it would wait for itself). If ctx ends before the writer takes the
// request, Write returns ctx.Err() without running fn; once fn has run,
// Write waits for the commit whatever ctx does.
//
// Keep each fn to the work of one request (an event or a few): concurrent
// Writes are batched into one commit anyway, while SQLite's in-memory
// savepoint journal makes a single fn that writes thousands of rows slower
// than linear (bulk loads should call Write per event or per few events,
// from several goroutines).
func (s *Store) Write(ctx context.Context, fn func(tx core.Tx) error) error {
	if fn == nil {
		return errors.New("sqlite: Write: nil function")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-r.done:
		return s.unavailable(r.err)
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqAbandoned) {
			return ctx.Err()
		}
		// The writer has it: fn may have run, so only the commit can say
		// whether the work is durable.
		<-r.done
		return s.unavailable(r.err)
	}
}

// run is the writer goroutine: it owns the write connection.
func (s *Store) run() {
	defer close(s.stopped)
	batch := make([]*request, 0, s.opts.MaxBatch)
	var timer *time.Timer
	for {
		r, ok := <-s.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		open := s.collect(&batch, &timer)
		s.commitBatch(batch)
		clear(batch) // drop references to finished requests
		if !open {
			return
		}
	}
}

// collect adds to batch what is already waiting, then, if MaxWait is set and
// the batch is not full, what arrives within MaxWait. It reports false once
// reqs is closed and drained.
func (s *Store) collect(batch *[]*request, timer **time.Timer) bool {
	for len(*batch) < s.opts.MaxBatch {
		select {
		case r, ok := <-s.reqs:
			if !ok {
				return false
			}
			*batch = append(*batch, r)
			continue
		default:
		}
		break
	}
	if s.opts.MaxWait <= 0 || len(*batch) >= s.opts.MaxBatch {
		return true
	}
	if *timer == nil {
		*timer = time.NewTimer(s.opts.MaxWait)
	} else {
		(*timer).Reset(s.opts.MaxWait)
	}
	defer (*timer).Stop()
	for len(*batch) < s.opts.MaxBatch {
		select {
		case r, ok := <-s.reqs:
			if !ok {
				return false
			}
			*batch = append(*batch, r)
		case <-(*timer).C:
			return true
		}
	}
	return true
}

// commitBatch runs every request of the batch in one transaction, each in a
// savepoint, commits once and answers every caller.
func (s *Store) commitBatch(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if !r.state.CompareAndSwap(reqPending, reqTaken) {
			continue // its caller gave up before we got to it
		}
		if err := r.ctx.Err(); err != nil {
			r.finish(err) // cancelled while queued: fn does not run
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx := context.Background() // callers' contexts must not cut the batch short
	s.aborted.Store(false)
	began := time.Now()
	if _, err := s.ws.begin.ExecContext(ctx); err != nil {
		err = fmt.Errorf("sqlite: begin write transaction: %w", err)
		for _, r := range live {
			r.finish(err)
		}
		return
	}
	tx := &writeTx{s: s, ctx: ctx}
	var fatal error // once set, the transaction is lost for everyone
	ran := 0
	for _, r := range live {
		ran++
		s.writes.Add(1)
		if fatal = s.savepoint(ctx, r, tx); fatal != nil {
			break
		}
	}
	if fatal == nil {
		committing := time.Now()
		if _, err := s.ws.commit.ExecContext(ctx); err != nil {
			fatal = fmt.Errorf("sqlite: commit: %w", err)
		} else {
			s.commits.Add(1)
			done := time.Now()
			s.lastCommit.Store(done.UnixNano())
			if s.opts.OnCommit != nil {
				s.opts.OnCommit(CommitInfo{Writes: ran, Transaction: done.Sub(began), Commit: done.Sub(committing)})
			}
		}
	}
	if fatal != nil {
		// Roll back whatever is left (there may be no transaction anymore).
		_, _ = s.ws.rollback.ExecContext(ctx)
		for i, r := range live {
			if i >= ran || r.err == nil {
				r.err = fatal
			}
		}
	}
	for _, r := range live {
		close(r.done)
	}
}

// finish answers a request that is not part of a transaction.
func (r *request) finish(err error) {
	r.err = err
	close(r.done)
}

// savepoint runs one request's fn inside SAVEPOINT w. fn's error (or panic)
// is recorded on r and undone with ROLLBACK TO; the returned error is
// non-nil only when the whole transaction is lost.
func (s *Store) savepoint(ctx context.Context, r *request, tx *writeTx) error {
	if _, err := s.ws.savepoint.ExecContext(ctx); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	view := &txView{tx: tx}
	err := runFn(r.fn, view)
	view.done.Store(true)
	if s.aborted.Load() {
		// SQLite (or fn through some back door) rolled the transaction
		// back: the savepoint and every earlier request's work are gone.
		if err == nil {
			err = errAborted
		}
		r.err = err
		return errAborted
	}
	if err == nil && tx.poisoned != nil {
		// A Tx method could not undo its own partial work: the request
		// must not commit, whatever fn returned.
		err = tx.poisoned
	}
	tx.poisoned = nil
	if err != nil {
		r.err = err
		if _, rerr := s.ws.rollbackTo.ExecContext(ctx); rerr != nil {
			return fmt.Errorf("sqlite: rollback to savepoint: %w", rerr)
		}
	}
	if _, rerr := s.ws.release.ExecContext(ctx); rerr != nil {
		return fmt.Errorf("sqlite: release savepoint: %w", rerr)
	}
	return nil
}

// runFn calls fn, turning a panic into a *PanicError.
func runFn(fn func(core.Tx) error, tx core.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return fn(tx)
}
