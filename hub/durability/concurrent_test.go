package durability_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// notifyAll sends one create+notify per transaction id from workers
// goroutines at once and returns the answered events by index. seed(i)
// chooses the declaration sent with txids[i].
func notifyAll(ph *phase, c *caller, txids []string, workers int, seed func(i int) int) ([]*core.EventDocument, []error) {
	ctx := ph.ctx
	bodies := make([][]byte, len(txids))
	for i := range txids {
		bodies[i] = notifyBody(txids[i], seed(i))
	}
	evs := make([]*core.EventDocument, len(txids))
	errs := parallel(len(txids), workers, func(i int) error {
		status, b, err := c.do(ctx, "POST", notifyPath, bodies[i])
		if err != nil {
			return ph.check(fmt.Errorf("%s: %w", txids[i], err))
		}
		if status != http.StatusOK {
			return fmt.Errorf("%s: status %d: %.300s", txids[i], status, b)
		}
		ev, err := decodeEvent(b)
		if err != nil {
			return err
		}
		if msg := checkNotified(ev, txids[i]); msg != "" {
			return fmt.Errorf("%s: answer: %s", txids[i], msg)
		}
		evs[i] = ev
		return nil
	})
	return evs, errs
}

// TestConcurrentCreateNotify: 200 create+notify requests with distinct
// transaction ids from 32 goroutines give exactly 200 events, each found
// afterwards; the same 200 requests replayed concurrently change nothing;
// and the same new transaction id sent by 8 goroutines at once gives one
// event, answered to all 8.
func TestConcurrentCreateNotify(t *testing.T) {
	const n, workers = 200, 32
	h := hubtest.Start(t, hubtest.Options{})
	// a generous limit (~700 requests take seconds on an idle machine);
	// errors from running out of it say "timeout"
	ph := startPhase(t, "concurrent create+notify", 4*time.Minute)
	ctx := ph.ctx
	c := newCaller(h.URL, h.ClientToken(hubtest.OfficeIbombo, notifyScopes...))
	defer c.close()

	same := func(i int) int { return i }
	txids := make([]string, n)
	for i := range txids {
		txids[i] = fmt.Sprintf("concurrent-%03d", i)
	}
	first, errs := notifyAll(ph, c, txids, workers, same)
	if firstErrors(t, "create+notify", errs, 5) > 0 {
		t.FailNow()
	}

	ids := map[string]string{}      // event id -> transaction id
	tracking := map[string]string{} // tracking id -> event id
	for i, ev := range first {
		if prev, dup := ids[ev.ID]; dup {
			t.Errorf("event %s answered for both %s and %s", ev.ID, prev, txids[i])
		}
		ids[ev.ID] = txids[i]
		if prev, dup := tracking[ev.TrackingID]; dup {
			t.Errorf("tracking id %s answered for events %s and %s", ev.TrackingID, prev, ev.ID)
		}
		tracking[ev.TrackingID] = ev.ID
	}

	// Every answered event is there, by id over HTTP, with its actions.
	errs = parallel(n, workers, func(i int) error {
		status, b, err := c.do(ctx, "GET", eventsPath+first[i].ID, nil)
		if err != nil {
			return ph.check(fmt.Errorf("GET %s: %w", first[i].ID, err))
		}
		if status != http.StatusOK {
			return fmt.Errorf("GET %s: %d %.200s", first[i].ID, status, b)
		}
		ev, err := decodeEvent(b)
		if err != nil {
			return err
		}
		if ev.ID != first[i].ID || ev.TrackingID != first[i].TrackingID {
			return fmt.Errorf("GET %s answered %s/%s, want tracking id %s", first[i].ID, ev.ID, ev.TrackingID, first[i].TrackingID)
		}
		if msg := checkNotified(ev, txids[i]); msg != "" {
			return fmt.Errorf("GET: %s", msg)
		}
		return nil
	})
	firstErrors(t, "get", errs, 5)

	checkSearch := func(stage string, want map[string]string) {
		t.Helper()
		sa, err := c.search(ctx, queryAllBirths)
		if err != nil {
			t.Fatalf("%s: %v", stage, ph.check(err))
		}
		if sa.Total != len(want) || len(sa.Results) != len(want) {
			t.Errorf("%s: search total %d with %d results, want %d", stage, sa.Total, len(sa.Results), len(want))
		}
		seen := map[string]bool{}
		seenTracking := map[string]bool{}
		for _, r := range sa.Results {
			if seen[r.ID] || seenTracking[r.TrackingID] {
				t.Errorf("%s: search returned event %s (tracking id %s) twice", stage, r.ID, r.TrackingID)
			}
			seen[r.ID], seenTracking[r.TrackingID] = true, true
			if _, ok := want[r.ID]; !ok {
				t.Errorf("%s: search returned event %s that no request was answered with", stage, r.ID)
			}
			if r.Status != string(core.EventNotified) {
				t.Errorf("%s: event %s has status %s, want NOTIFIED", stage, r.ID, r.Status)
			}
		}
		if sa, err := c.search(ctx, queryCreatedBirths); err != nil || sa.Total != 0 {
			t.Errorf("%s: events left in CREATED (create without its notify): %+v %v", stage, sa, err)
		}
	}
	checkSearch("after 200 concurrent requests", ids)

	// The same 200 requests again, concurrently: same answers, no new event.
	again, errs := notifyAll(ph, c, txids, workers, same)
	if firstErrors(t, "replay", errs, 5) > 0 {
		t.FailNow()
	}
	for i, ev := range again {
		if ev.ID != first[i].ID || ev.TrackingID != first[i].TrackingID {
			t.Errorf("replay of %s answered event %s/%s, first answer was %s/%s",
				txids[i], ev.ID, ev.TrackingID, first[i].ID, first[i].TrackingID)
		}
	}
	checkSearch("after the concurrent replay", ids)

	// 25 new transaction ids, each sent by 8 goroutines at the same moment.
	const fresh, copies = 25, 8
	burst := make([]string, fresh*copies)
	for i := range burst {
		burst[i] = fmt.Sprintf("burst-%02d", i%fresh)
	}
	evs, errs := notifyAll(ph, c, burst, fresh*copies, func(i int) int { return n + i%fresh })
	if firstErrors(t, "duplicate burst", errs, 5) > 0 {
		t.FailNow()
	}
	byTx := map[string]string{}
	for i, ev := range evs {
		if prev, ok := byTx[burst[i]]; ok && prev != ev.ID {
			t.Errorf("transactionId %s answered with two events: %s and %s", burst[i], prev, ev.ID)
		}
		byTx[burst[i]] = ev.ID
		ids[ev.ID] = burst[i]
	}
	if len(ids) != n+fresh {
		t.Errorf("%d distinct events answered, want %d", len(ids), n+fresh)
	}
	checkSearch("after the duplicate burst", ids)
}
