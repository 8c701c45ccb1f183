package httpapi_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestIdempotentCreate: the same create twice answers the same event and
// stores one.
func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	body := map[string]any{"type": "birth", "transactionId": newTx(), "createdAtLocation": hubtest.OfficeIbombo}

	first := h.Do("POST", pathEvents, tok, body)
	wantOK(t, first)
	second := h.Do("POST", pathEvents, tok, body)
	wantOK(t, second)
	if !jsonEqual(t, first.Body, second.Body) {
		t.Errorf("repeated create answered a different body:\n%s\n%s", first.Body, second.Body)
	}
	ev := first.Event()
	if n := total(t, h, tok); n != 1 {
		t.Errorf("search total %d after a repeated create, want 1", n)
	}
	if n := len(allAudits(t, h, "event.create")); n != 1 {
		t.Errorf("%d event.create audit entries, want 1", n)
	}
	wantShape(t, stored(t, h, ev.ID), "CREATE/Accepted")

	// The same transaction id for the other event type is refused: action
	// rows are unique on (transactionId, type, status) across events, as in
	// OpenCRVS, so the second CREATE cannot be stored. Nothing changes.
	body["type"] = "death"
	wantError(t, h.Do("POST", pathEvents, tok, body), http.StatusConflict, body["transactionId"].(string))
	if n := total(t, h, tok); n != 1 {
		t.Errorf("search total %d after a refused create, want 1", n)
	}
}

// TestIdempotentCreateAndNotify: the same create+notify twice answers the
// same event with one CREATE and one NOTIFY pair.
func TestIdempotentCreateAndNotify(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	body := map[string]any{"transactionId": newTx(), "eventType": "birth", "createdAtLocation": hubtest.OfficeIbombo,
		"declaration": hubtest.BirthDeclaration("Alice", "Banda")}
	first := h.Do("POST", pathNotify, tok, body)
	wantOK(t, first)
	second := h.Do("POST", pathNotify, tok, body)
	wantOK(t, second)
	if !jsonEqual(t, first.Body, second.Body) {
		t.Errorf("repeated create+notify answered a different body:\n%s\n%s", first.Body, second.Body)
	}
	ev := first.Event()
	wantShape(t, stored(t, h, ev.ID), "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted")
	if n := total(t, h, tok); n != 1 {
		t.Errorf("search total %d, want 1", n)
	}
	// one audit entry for the one request, naming both rows it wrote
	notifies := audits(t, h, ev.ID, "action.NOTIFY")
	if len(notifies) != 1 {
		t.Fatalf("%d action.NOTIFY audit entries, want 1", len(notifies))
	}
	var detail struct {
		Rows []struct{ Status string } `json:"rows"`
	}
	if err := json.Unmarshal(notifies[0].Detail, &detail); err != nil || len(detail.Rows) != 2 ||
		detail.Rows[0].Status != "Requested" || detail.Rows[1].Status != "Accepted" {
		t.Errorf("audit detail %s, want the Requested and Accepted rows", notifies[0].Detail)
	}
}

// TestIdempotentAction: an action repeated with the same transactionId
// answers the identical event and adds no action row.
func TestIdempotentAction(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	ev := create(t, h, tok)
	tx := newTx()
	extra := map[string]any{"declaration": hubtest.BirthDeclaration("Alice", "Banda")}

	first := h.Act(tok, ev.ID, "notify", tx, extra)
	wantOK(t, first)
	second := h.Act(tok, ev.ID, "notify", tx, extra)
	wantOK(t, second)
	if !jsonEqual(t, first.Body, second.Body) {
		t.Errorf("repeated action answered a different body:\n%s\n%s", first.Body, second.Body)
	}
	wantShape(t, stored(t, h, ev.ID), "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted")

	// A retry with another body but the same transactionId is still the
	// first action's answer: nothing is written.
	extra = map[string]any{"declaration": hubtest.BirthDeclaration("Other", "Name")}
	third := h.Act(tok, ev.ID, "notify", tx, extra)
	wantOK(t, third)
	if !jsonEqual(t, first.Body, third.Body) {
		t.Errorf("retry with another body changed the answer:\n%s\n%s", first.Body, third.Body)
	}
	wantShape(t, stored(t, h, ev.ID), "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted")

	// Same for a non-confirmable action (ASSIGN).
	tx = newTx()
	a1 := h.Act(tok, ev.ID, "assign", tx, nil)
	wantOK(t, a1)
	a2 := h.Act(tok, ev.ID, "assign", tx, nil)
	wantOK(t, a2)
	if !jsonEqual(t, a1.Body, a2.Body) {
		t.Errorf("repeated assign answered a different body:\n%s\n%s", a1.Body, a2.Body)
	}
	wantShape(t, stored(t, h, ev.ID), "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted", "ASSIGN/Accepted")
}

// TestConcurrentCreateAndNotify: 20 identical create+notify requests at
// once make exactly one event.
func TestConcurrentCreateAndNotify(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	body := map[string]any{"transactionId": newTx(), "eventType": "birth", "createdAtLocation": hubtest.OfficeIbombo,
		"declaration": hubtest.BirthDeclaration("Alice", "Banda")}
	const n = 20
	var (
		wg      sync.WaitGroup
		answers = make([]*hubtest.Response, n)
		start   = make(chan struct{})
	)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = h.Do("POST", pathNotify, tok, body)
		}()
	}
	close(start)
	wg.Wait()
	statuses := map[int]int{}
	idsSeen := map[string]int{}
	for _, res := range answers {
		statuses[res.Status]++
		if res.Status == http.StatusOK {
			var ev core.EventDocument
			res.JSON(&ev)
			idsSeen[ev.ID]++
		}
	}
	if statuses[http.StatusOK] != n {
		t.Errorf("statuses %v, want %d x 200", statuses, n)
	}
	if len(idsSeen) != 1 {
		t.Fatalf("answers named %d events, want 1: %v", len(idsSeen), idsSeen)
	}
	if got := total(t, h, tok); got != 1 {
		t.Errorf("search total %d, want 1", got)
	}
	if got := len(allAudits(t, h, "event.create")); got != 1 {
		t.Errorf("%d event.create audit entries, want 1", got)
	}
	for id := range idsSeen {
		wantShape(t, stored(t, h, id), "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted")
	}
}

// TestConcurrentCreate: 20 identical creates at once make one event.
func TestConcurrentCreate(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	body := map[string]any{"transactionId": newTx(), "type": "death", "createdAtLocation": hubtest.OfficeIbombo}
	var wg sync.WaitGroup
	answers := make([]*hubtest.Response, 20)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = h.Do("POST", pathEvents, tok, body)
		}()
	}
	wg.Wait()
	for _, res := range answers {
		wantOK(t, res)
		if !jsonEqual(t, res.Body, answers[0].Body) {
			t.Errorf("answers differ:\n%s\n%s", res.Body, answers[0].Body)
		}
	}
	if got := total(t, h, tok); got != 1 {
		t.Errorf("search total %d, want 1", got)
	}
}

// TestConcurrentActions: concurrent requests on one event are serialised:
// 20 identical notifies store one NOTIFY; 20 notifies with distinct
// transaction ids let exactly one through and answer 409 to the others.
func TestConcurrentActions(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	decl := map[string]any{"declaration": hubtest.BirthDeclaration("Alice", "Banda")}
	run := func(id string, tx func() string) map[int]int {
		var wg sync.WaitGroup
		answers := make([]*hubtest.Response, 20)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = h.Act(tok, id, "notify", tx(), decl)
			}()
		}
		wg.Wait()
		statuses := map[int]int{}
		for _, res := range answers {
			statuses[res.Status]++
			if res.Status == http.StatusConflict {
				wantError(t, res, http.StatusConflict, "'NOTIFY'", "NOTIFIED")
			}
		}
		return statuses
	}

	same := create(t, h, tok)
	shared := newTx()
	if st := run(same.ID, func() string { return shared }); st[http.StatusOK] != 20 {
		t.Errorf("identical notifies: statuses %v, want 20 x 200", st)
	}
	wantShape(t, stored(t, h, same.ID), "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted")

	distinct := create(t, h, tok)
	if st := run(distinct.ID, newTx); st[http.StatusOK] != 1 || st[http.StatusConflict] != 19 {
		t.Errorf("distinct notifies: statuses %v, want 1 x 200 and 19 x 409", st)
	}
	wantShape(t, stored(t, h, distinct.ID), "CREATE/Accepted", "NOTIFY/Requested", "NOTIFY/Accepted")
}
