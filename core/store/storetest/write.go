package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

func client(id string) *core.Client {
	return &core.Client{ID: id, Name: "client " + id, SecretHash: "h", Scopes: []string{"s"},
		Status: core.ClientActive, CreatedAt: at(0), UpdatedAt: at(0)}
}

// writeEvent is a typical Write: an event, its index row and an audit entry.
func writeEvent(tx core.Tx, i int) error {
	id := fmt.Sprintf("ev-%04d", i)
	ev := newEvent(id, "birth", "TRK-"+id, "tx-"+id)
	if err := tx.InsertEvent(ev); err != nil {
		return err
	}
	if err := tx.PutIndex(&core.IndexRow{EventID: id, Type: "birth", Status: "CREATED", TrackingID: ev.TrackingID,
		CreatedAt: ev.CreatedAt, UpdatedAt: ev.UpdatedAt, Flags: []string{"f"},
		Fields: []core.IndexField{{FieldID: "n", Kind: core.KindNum, Num: float64(i)}},
		Doc:    json.RawMessage(`{"id":"` + id + `"}`)}); err != nil {
		return err
	}
	return tx.Audit(core.AuditEntry{At: at(0), ActorID: "a", ActorType: core.UserTypeUser,
		Operation: "event.create", ObjectType: "event", ObjectID: id})
}

func testWrite(t *testing.T, fresh, open func(*testing.T) core.Store) {
	ctx := context.Background()
	boom := errors.New("boom")

	t.Run("FnErrorRollsBack", func(t *testing.T) {
		s := fresh(t)
		err := s.Write(ctx, func(tx core.Tx) error {
			if err := writeEvent(tx, 1); err != nil {
				return err
			}
			if err := tx.PutClient(client("c1")); err != nil {
				return err
			}
			return fmt.Errorf("wrapped: %w", boom)
		})
		wantErr(t, "Write", err, boom)
		mustNotFind(t, s, "ev-0001")
		_, err = s.Client(ctx, "c1")
		wantErr(t, "Client", err, core.ErrNotFound)
		if es, err := s.Audit(ctx, core.AuditFilter{}); err != nil || len(es) != 0 {
			t.Errorf("Audit = %v, %v; want nothing", es, err)
		}
		if p := search(t, s, core.SearchFilter{Limit: 10}); p.Total != 0 {
			t.Errorf("search total = %d, want 0", p.Total)
		}
		// The same work succeeds afterwards: nothing was left behind.
		write(t, s, func(tx core.Tx) error { return writeEvent(tx, 1) })
	})

	t.Run("ConcurrentSomeFail", func(t *testing.T) {
		s := fresh(t)
		const n = 50
		start := make(chan struct{})
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.Write(ctx, func(tx core.Tx) error {
					if err := writeEvent(tx, i); err != nil {
						return err
					}
					if err := tx.PutClient(client(fmt.Sprintf("c%d", i))); err != nil {
						return err
					}
					if i%3 == 0 {
						return boom
					}
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			evID := fmt.Sprintf("ev-%04d", i)
			_, cerr := s.Client(ctx, fmt.Sprintf("c%d", i))
			_, everr := s.Event(ctx, evID)
			if i%3 == 0 {
				if !errors.Is(err, boom) {
					t.Errorf("write %d: error %v, want boom", i, err)
				}
				if !errors.Is(cerr, core.ErrNotFound) || !errors.Is(everr, core.ErrNotFound) {
					t.Errorf("write %d failed but left client (%v) or event (%v)", i, cerr, everr)
				}
				continue
			}
			ok++
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
			if cerr != nil || everr != nil {
				t.Errorf("write %d succeeded but client: %v, event: %v", i, cerr, everr)
			}
		}
		if p := search(t, s, core.SearchFilter{Where: leaf(core.ColFlag, core.OpIn, "f"), Limit: 1}); p.Total != ok {
			t.Errorf("indexed %d events, want %d", p.Total, ok)
		}
		if es, _ := s.Audit(ctx, core.AuditFilter{}); len(es) != ok {
			t.Errorf("%d audit entries, want %d", len(es), ok)
		}
	})

	t.Run("Panic", func(t *testing.T) {
		s := fresh(t)
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Go(func() {
				<-start
				errs[i] = s.Write(ctx, func(tx core.Tx) error {
					if err := writeEvent(tx, i); err != nil {
						return err
					}
					if i%2 == 0 {
						panic(fmt.Sprintf("panic %d", i))
					}
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			_, everr := s.Event(ctx, fmt.Sprintf("ev-%04d", i))
			if i%2 == 0 {
				if err == nil {
					t.Errorf("panicking write %d returned nil", i)
				}
				if !errors.Is(everr, core.ErrNotFound) {
					t.Errorf("panicking write %d left its event: %v", i, everr)
				}
			} else if err != nil || everr != nil {
				t.Errorf("write %d: %v, event: %v", i, err, everr)
			}
		}
		// Still usable.
		write(t, s, func(tx core.Tx) error { return tx.PutClient(client("after")) })
		if _, err := s.Client(ctx, "after"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Many", func(t *testing.T) {
		s := fresh(t)
		const n = 500
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { errs[i] = s.Write(ctx, func(tx core.Tx) error { return writeEvent(tx, i) }) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		// Every acknowledged write is visible to readers right away.
		for i := range n {
			id := fmt.Sprintf("ev-%04d", i)
			if got, err := s.EventIDByTrackingID(ctx, "TRK-"+id); err != nil || got != id {
				t.Fatalf("event %s: %q, %v", id, got, err)
			}
		}
		if p := search(t, s, core.SearchFilter{Where: numRange("n", f64(0), f64(n-1)), Limit: 1}); p.Total != n {
			t.Errorf("search total = %d, want %d", p.Total, n)
		}
		if es, _ := s.Audit(ctx, core.AuditFilter{}); len(es) != n {
			t.Errorf("%d audit entries, want %d", len(es), n)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := fresh(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		var ran atomic.Bool
		err := s.Write(cctx, func(tx core.Tx) error { ran.Store(true); return tx.PutClient(client("c1")) })
		wantErr(t, "Write", err, context.Canceled)
		if ran.Load() {
			t.Error("fn ran with a cancelled context")
		}
		// A deadline that passes while fn runs does not turn committed work
		// into an error, nor an error into committed work.
		dctx, cancel2 := context.WithTimeout(ctx, time.Hour)
		defer cancel2()
		err = s.Write(dctx, func(tx core.Tx) error {
			cancel2()
			return tx.PutClient(client("c2"))
		})
		_, cerr := s.Client(ctx, "c2")
		if (err == nil) != (cerr == nil) {
			t.Errorf("Write = %v but Client = %v", err, cerr)
		}
	})

	t.Run("Close", func(t *testing.T) {
		s := open(t)
		write(t, s, func(tx core.Tx) error { return tx.PutClient(client("c1")) })
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		var ran atomic.Bool
		if err := s.Write(ctx, func(tx core.Tx) error { ran.Store(true); return nil }); err == nil {
			t.Error("Write after Close returned nil")
		}
		if ran.Load() {
			t.Error("fn ran after Close")
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}
