package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestReadsDoNotGrowTheRecord: thousands of GETs by two readers leave the
// document with one READ per reader (the latest), every read in the audit
// log, and updatedAt (event and index) where the last real change put it.
// Before, every GET appended a READ row: the document, which every answer
// carries, grew without bound.
func TestReadsDoNotGrowTheRecord(t *testing.T) {
	t.Parallel()
	h := start(t)
	tokA := h.ClientToken(hubtest.OfficeIbombo, hubtest.AllScopes...)
	tokB := h.ClientToken(hubtest.OfficeIbombo, "type=record.read&event=birth,death", "type=record.search&event=birth,death")
	ev := h.Notify(tokA, "birth", newTx(), hubtest.BirthDeclaration("Reading", "Banda"))
	indexUpdatedAt := func() string {
		sr := h.Do("POST", pathSearch, tokA, and(map[string]any{"id": ev.ID}))
		wantOK(t, sr)
		var r struct {
			Results []struct {
				UpdatedAt string `json:"updatedAt"`
			} `json:"results"`
		}
		sr.JSON(&r)
		if len(r.Results) != 1 {
			t.Fatalf("search by id: %s", sr.Body)
		}
		return r.Results[0].UpdatedAt
	}
	idxBefore := indexUpdatedAt()

	wantOK(t, h.Do("GET", eventPath(ev.ID), tokB, nil))
	first := h.Do("GET", eventPath(ev.ID), tokA, nil) // holds a READ of each reader
	wantOK(t, first)

	const perReader = 1000
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for _, tok := range []string{tokA, tokA, tokB, tokB} {
		wg.Go(func() {
			for range perReader / 2 {
				if res := h.Do("GET", eventPath(ev.ID), tok, nil); res.Status != 200 {
					errs <- fmt.Sprintf("GET: status %d: %s", res.Status, res.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	last := h.Do("GET", eventPath(ev.ID), tokA, nil)
	wantOK(t, last)
	got := last.Event()
	// CREATE, NOTIFY x2, then B's latest READ and A's latest READ
	wantShape(t, got, "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted", "READ/Accepted", "READ/Accepted")
	idA, idB := got.Actions[4].CreatedBy, got.Actions[3].CreatedBy
	if idA == idB || idA != ev.Actions[0].CreatedBy {
		t.Errorf("READ rows by %s and %s; want one per reader, A's last", idB, idA)
	}
	if lastRead := got.Actions[4]; lastRead.CreatedAtLocation != hubtest.OfficeIbombo || !lastRead.CreatedAt.After(got.Actions[3].CreatedAt) {
		t.Errorf("A's READ %+v is not its latest", lastRead)
	}
	// The answer is as large as after each reader's first read (give or
	// take a time's fraction digits): bounded by the record's real changes.
	if len(last.Body) > len(first.Body)+20 {
		t.Errorf("after %d reads the document is %d bytes, after the first two %d", 2*perReader+3, len(last.Body), len(first.Body))
	}
	if !got.UpdatedAt.Equal(ev.UpdatedAt) {
		t.Errorf("updatedAt moved on READ: %s, was %s", got.UpdatedAt, ev.UpdatedAt)
	}
	if idx := indexUpdatedAt(); idx != idxBefore {
		t.Errorf("index updatedAt moved on READ: %s, was %s", idx, idxBefore)
	}
	wantShape(t, stored(t, h, ev.ID), shape(got)...)

	// Every read is in the audit log, with who read and from where.
	entries, err := h.App.Store.Audit(context.Background(), core.AuditFilter{ObjectID: ev.ID})
	if err != nil {
		t.Fatal(err)
	}
	reads := map[string]int{}
	for _, e := range entries {
		if e.Operation != "action.READ" {
			continue
		}
		reads[e.ActorID]++
		var d struct {
			CreatedAtLocation string `json:"createdAtLocation"`
			Rows              []struct {
				ActionID string `json:"actionId"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(e.Detail, &d); err != nil || d.CreatedAtLocation != hubtest.OfficeIbombo || len(d.Rows) != 1 || d.Rows[0].ActionID == "" {
			t.Fatalf("READ audit entry %s: %v", e.Detail, err)
		}
	}
	if want := perReader + 2; reads[idA] != want || reads[idB] != want-1 {
		t.Errorf("audit READ entries %v, want %d for %s and %d for %s", reads, want, idA, want-1, idB)
	}
}
