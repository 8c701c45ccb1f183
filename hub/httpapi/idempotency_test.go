package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
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

	// The same transactionId with another body is not a retry: 409 naming
	// what differs, and nothing is written (it used to answer 200 with the
	// first result, silently dropping the new data).
	extra = map[string]any{"declaration": hubtest.BirthDeclaration("Other", "Name")}
	third := h.Act(tok, ev.ID, "notify", tx, extra)
	wantError(t, third, http.StatusConflict, tx, "child.name")
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

// TestTransactionIDsArePerClient: two hospitals that both use their local
// record number "1001" as transactionId make two records. The second never
// gets the first one's record back (someone else's personal data), and its
// own child is stored, not silently dropped.
func TestTransactionIDsArePerClient(t *testing.T) {
	t.Parallel()
	h := start(t)
	hospitalA := h.ClientToken(hubtest.OfficeIbombo, "notification-api", "type=record.declare")
	hospitalB := h.ClientToken(hubtest.OfficeIbombo, "notification-api", "type=record.declare")
	createOnly := h.ClientToken(hubtest.OfficeIbombo, "type=record.create&event=birth")
	tx := "1001"

	a := h.Notify(hospitalA, "birth", tx, hubtest.BirthDeclaration("Alice", "Banda"))
	b := h.Notify(hospitalB, "birth", tx, hubtest.BirthDeclaration("Bwalya", "Phiri"))
	if a.ID == b.ID {
		t.Fatalf("two hospitals' births with the same local id are one record %s", a.ID)
	}
	if name := string(core.Derive(b).Declaration["child.name"]); !strings.Contains(name, "Bwalya") {
		t.Errorf("hospital B got child.name %s, want its own child", name)
	}
	// each hospital's retry still finds its own record
	if again := h.Notify(hospitalB, "birth", tx, hubtest.BirthDeclaration("Bwalya", "Phiri")); again.ID != b.ID {
		t.Errorf("hospital B's retry: %s, want %s", again.ID, b.ID)
	}
	// a client that may only create, using A's create key, gets an event of its own
	res := h.Do("POST", pathEvents, createOnly, map[string]any{"type": "birth", "transactionId": tx + ":create", "createdAtLocation": hubtest.OfficeIbombo})
	wantOK(t, res)
	if got := res.Event(); got.ID == a.ID || got.ID == b.ID || len(core.Derive(got).Declaration) != 0 {
		t.Errorf("create with another client's key answered %s with %d fields", got.ID, len(core.Derive(got).Declaration))
	}
	if n := total(t, h, adminToken(h)); n != 3 {
		t.Errorf("%d events, want 3", n)
	}
	// action transaction ids are per client too: B may use an id A used
	act(t, h, hospitalA, a.ID, "assign", map[string]any{"transactionId": "shared-action"})
	wantOK(t, h.Act(hospitalB, b.ID, "assign", "shared-action", nil))
}

// TestCreateRepeatWithOtherLocation: repeating a create's transactionId
// from another location is not a retry.
func TestCreateRepeatWithOtherLocation(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	tx := newTx()
	body := map[string]any{"type": "birth", "transactionId": tx, "createdAtLocation": hubtest.OfficeIbombo}
	wantOK(t, h.Do("POST", pathEvents, tok, body))
	body["createdAtLocation"] = hubtest.OfficeIlanga
	wantError(t, h.Do("POST", pathEvents, tok, body), http.StatusConflict, tx, "createdAtLocation")
	if n := total(t, h, tok); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}
