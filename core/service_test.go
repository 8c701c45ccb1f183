package core_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/searchquery"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
)

// memStore is the smallest core.Store the engine can run on: events in a
// map, writes applied only when fn succeeds, Search recording the filter.
// Methods it does not need come from the embedded (nil) interfaces.
type memStore struct {
	core.Store
	mu         sync.Mutex
	events     map[string]*core.EventDocument
	index      map[string]*core.IndexRow
	outbox     []core.OutboxMessage
	numbers    map[string]string // registration number -> event id
	lastSearch *core.SearchFilter
}

func newMemStore() *memStore {
	return &memStore{events: map[string]*core.EventDocument{}, index: map[string]*core.IndexRow{}}
}

type memTx struct {
	core.Tx
	s       *memStore
	events  map[string]*core.EventDocument
	index   map[string]*core.IndexRow
	outbox  []core.OutboxMessage
	numbers map[string]string
}

func (s *memStore) Write(_ context.Context, fn func(core.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &memTx{s: s, events: map[string]*core.EventDocument{}, index: map[string]*core.IndexRow{}}
	if err := fn(tx); err != nil {
		return err
	}
	for k, v := range tx.events {
		s.events[k] = v
	}
	for k, v := range tx.index {
		s.index[k] = v
	}
	s.outbox = append(s.outbox, tx.outbox...)
	if s.numbers == nil {
		s.numbers = map[string]string{}
	}
	for n, ev := range tx.numbers {
		if ev == "" {
			delete(s.numbers, n)
		} else {
			s.numbers[n] = ev
		}
	}
	return nil
}

func (tx *memTx) Enqueue(m core.OutboxMessage) error { tx.outbox = append(tx.outbox, m); return nil }

func (s *memStore) Event(_ context.Context, id string) (*core.EventDocument, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev, ok := s.events[id]; ok {
		return ev.Clone(), nil
	}
	return nil, core.ErrNotFound
}

func (s *memStore) Search(_ context.Context, f core.SearchFilter) (core.SearchPage, error) {
	s.lastSearch = &f
	return core.SearchPage{}, nil
}

func (tx *memTx) Event(id string) (*core.EventDocument, error) {
	if ev, ok := tx.events[id]; ok {
		return ev.Clone(), nil
	}
	if ev, ok := tx.s.events[id]; ok {
		return ev.Clone(), nil
	}
	return nil, core.ErrNotFound
}

func (tx *memTx) EventByTransaction(createdBy, transactionID, eventType string) (*core.EventDocument, error) {
	for _, m := range []map[string]*core.EventDocument{tx.events, tx.s.events} {
		for _, ev := range m {
			if ev.Type == eventType && len(ev.Actions) > 0 && ev.Actions[0].TransactionID == transactionID && ev.Actions[0].CreatedBy == createdBy {
				return ev.Clone(), nil
			}
		}
	}
	return nil, core.ErrNotFound
}

func (tx *memTx) InsertEvent(ev *core.EventDocument) error {
	if _, err := tx.Event(ev.ID); err == nil {
		return core.ErrDuplicate
	}
	tx.events[ev.ID] = ev.Clone()
	return nil
}

func (tx *memTx) AppendActions(id string, updatedAt time.Time, actions ...core.Action) error {
	ev, err := tx.Event(id)
	if err != nil {
		return err
	}
	for _, a := range actions {
		if a.Type == core.ActionRead { // the reader's earlier READ gives way (core.Tx contract)
			ev.Actions = slices.DeleteFunc(ev.Actions, func(r core.Action) bool { return r.Type == core.ActionRead && r.CreatedBy == a.CreatedBy })
		}
	}
	ev.Actions = append(ev.Actions, actions...)
	ev.UpdatedAt = updatedAt
	tx.events[id] = ev
	return nil
}

func (tx *memTx) PutIndex(row *core.IndexRow) error { tx.index[row.EventID] = row; return nil }

func (tx *memTx) ReserveRegistrationNumber(number, eventID string) error {
	if tx.numbers == nil {
		tx.numbers = map[string]string{}
	}
	owner, ok := tx.numbers[number]
	if !ok {
		owner, ok = tx.s.numbers[number]
	}
	if ok && owner != eventID {
		return core.ErrRegistrationNumberTaken
	}
	tx.numbers[number] = eventID
	return nil
}

func (tx *memTx) ReleaseRegistrationNumber(number, eventID string) error {
	if tx.numbers == nil {
		tx.numbers = map[string]string{}
	}
	if owner := tx.s.numbers[number]; owner == eventID || tx.numbers[number] == eventID {
		tx.numbers[number] = "" // released at commit
	}
	return nil
}
func (tx *memTx) Audit(core.AuditEntry) error { return nil }

type fixedRegNums struct{}

func (fixedRegNums) Next(*core.EventDocument) string { return "REG000000042" }

func newService(t *testing.T, conf core.Confirmer) (*core.Service, *memStore) {
	t.Helper()
	st := newMemStore()
	return &core.Service{Store: st, Config: farajaland(t), Confirmer: conf, RegNums: fixedRegNums{},
		Now: func() time.Time { return testNow }}, st
}

func systemClient(t *testing.T, scopes ...string) core.Principal {
	t.Helper()
	return core.Principal{ID: "client-1", Type: core.UserTypeSystem, Scopes: mustScopes(t, scopes...), Office: fl.IbomboOffice}
}

var allRecordScopes = []string{"notification-api", "record.read", "record.declare", "record.register", "record.reject",
	"record.archive", "record.print-certified-copies", "record.correct", "record.review-duplicates", "record.edit", "record.search",
	"record.confirm-registration", "record.reject-registration"}

func TestServiceActionsFollowTheTable(t *testing.T) {
	svc, _ := newService(t, nil)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	ev, err := svc.CreateEvent(ctx, p, core.CreateInput{TransactionID: "tx-create", Type: "birth", CreatedAtLocation: fl.IbomboOffice})
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.CreateEvent(ctx, p, core.CreateInput{TransactionID: "tx-create", Type: "birth", CreatedAtLocation: fl.IbomboOffice})
	if err != nil || again.ID != ev.ID || again.TrackingID != ev.TrackingID {
		t.Fatalf("repeated create: %v %v", again, err)
	}
	act := func(typ core.ActionType, tx string, d string) (*core.EventDocument, error) {
		in := core.ActionInput{Type: typ, TransactionID: tx, CreatedAtLocation: fl.IbomboOffice}
		if d != "" {
			in.Declaration = decl(t, d)
		}
		return svc.Act(ctx, p, ev.ID, in)
	}
	conflict := func(err error, action, state string) {
		t.Helper()
		e := coreErr(t, err)
		if e.Kind != core.KindConflict || !strings.Contains(e.Message, "'"+action+"'") || !strings.Contains(e.Message, state) {
			t.Fatalf("want a 409 naming %s and %s, got %v %q", action, state, e.Kind, e.Message)
		}
	}
	_, err = act(core.ActionRegister, "tx-reg-early", "")
	conflict(err, "REGISTER", "CREATED")

	_, err = act(core.ActionNotify, "tx-notify-bad", `{"child.colour":"blue"}`)
	if e := coreErr(t, err); e.Kind != core.KindInvalid || len(e.Fields) != 1 || e.Fields[0].ID != "child.colour" {
		t.Fatalf("unknown field: %+v", e)
	}
	got, err := act(core.ActionNotify, "tx-notify", `{"child.gender":"male"}`)
	if err != nil {
		t.Fatal(err)
	}
	if st := core.Derive(got); st.Status != core.EventNotified || !st.HasFlag(core.FlagIncomplete) {
		t.Fatalf("after NOTIFY: %s %v", st.Status, st.Flags)
	}
	if same, err := act(core.ActionNotify, "tx-notify", `{"child.gender":"male"}`); err != nil || len(same.Actions) != len(got.Actions) {
		t.Fatalf("repeated NOTIFY must return the same event: %v", err)
	}
	_, err = act(core.ActionNotify, "tx-notify-2", `{"child.gender":"female"}`)
	conflict(err, "NOTIFY", "NOTIFIED")

	_, err = act(core.ActionDeclare, "tx-declare-incomplete", "")
	e := coreErr(t, err)
	var missing []string
	for _, f := range e.Fields {
		missing = append(missing, f.ID)
	}
	if e.Kind != core.KindInvalid || !slices.Equal(missing, []string{"child.name", "child.dob", "child.placeOfBirth", "informant.relation", "mother.name"}) {
		t.Fatalf("incomplete DECLARE: %v %v", e.Kind, missing)
	}
	full := `{"child.name":{"firstname":"A","surname":"B"},"child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"` + fl.IbomboHospital + `","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}}`
	if _, err := act(core.ActionDeclare, "tx-declare", full); err != nil {
		t.Fatal(err)
	}
	got, err = act(core.ActionRegister, "tx-register", "")
	if err != nil {
		t.Fatal(err)
	}
	st := core.Derive(got)
	if st.Status != core.EventRegistered || st.Registered == nil || st.Registered.RegistrationNumber != "REG000000042" {
		t.Fatalf("after REGISTER: %s %+v", st.Status, st.Registered)
	}
	_, err = act(core.ActionApproveCorrection, "tx-approve", "")
	conflict(err, "APPROVE_CORRECTION", "REGISTERED")
}

func TestServiceDeferredConfirmation(t *testing.T) {
	var deferNext = true
	conf := core.ConfirmerFunc(func(_ context.Context, _ *core.EventDocument, a *core.Action) (core.Confirmation, error) {
		if a.Type == core.ActionNotify && deferNext {
			return core.Confirmation{Decision: core.Defer}, nil
		}
		return core.Confirmation{Decision: core.Accept}, nil
	})
	svc, _ := newService(t, conf)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	ev, created, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: "tx-1", EventType: "birth", CreatedAtLocation: fl.IbomboOffice,
		Declaration: decl(t, `{"child.gender":"female"}`)})
	if err != nil || !created {
		t.Fatalf("create-and-notify: created %v, %v", created, err)
	}
	st := core.Derive(ev)
	if st.Status != core.EventCreated || st.Pending == nil || !slices.Equal(st.Flags, []string{"notify:requested"}) {
		t.Fatalf("deferred NOTIFY: %s %v %v", st.Status, st.Flags, st.Pending)
	}
	_, err = svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: "tx-2", CreatedAtLocation: fl.IbomboOffice})
	if e := coreErr(t, err); e.Kind != core.KindConflict || !strings.Contains(e.Message, "notify:requested") {
		t.Fatalf("action while NOTIFY is requested: %v", err)
	}
	reqID := st.Pending.ID
	// Resolving needs the confirmation scopes, and valid additions.
	notifier := systemClient(t, "notification-api", "record.read")
	for _, d := range []core.Decision{core.Accept, core.Reject} {
		if _, err := svc.Resolve(ctx, notifier, ev.ID, reqID, core.Confirmation{Decision: d}); core.KindOf(err) != core.KindForbidden {
			t.Fatalf("resolve (%v) without the confirmation scopes: %v", d, err)
		}
	}
	if _, err := svc.Resolve(ctx, p, ev.ID, reqID, core.Confirmation{Decision: core.Accept, Declaration: decl(t, `{"child.nid":12}`)}); core.KindOf(err) != core.KindInvalid {
		t.Fatalf("resolve with a bad declaration: %v", err)
	}
	ev, err = svc.Resolve(ctx, p, ev.ID, reqID, core.Confirmation{Decision: core.Accept, Declaration: decl(t, `{"child.nid":"1234567890"}`)})
	if err != nil {
		t.Fatal(err)
	}
	st = core.Derive(ev)
	if st.Status != core.EventNotified || st.Pending != nil || string(st.Declaration["child.nid"]) != `"1234567890"` || string(st.Declaration["child.gender"]) != `"female"` {
		t.Fatalf("after acceptance: %s %v %s", st.Status, st.Flags, st.Declaration)
	}
	n := len(ev.Actions)
	if ev, err = svc.Resolve(ctx, p, ev.ID, reqID, core.Confirmation{Decision: core.Accept}); err != nil || len(ev.Actions) != n {
		t.Fatalf("accepting twice must change nothing: %v", err)
	}
	if _, err := svc.Resolve(ctx, p, ev.ID, reqID, core.Confirmation{Decision: core.Reject}); core.KindOf(err) != core.KindConflict {
		t.Fatalf("rejecting an accepted action: %v", err)
	}
	// repeated create-and-notify returns the same event, not created again
	again, created, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: "tx-1", EventType: "birth", CreatedAtLocation: fl.IbomboOffice,
		Declaration: decl(t, `{"child.gender":"female"}`)})
	if err != nil || again.ID != ev.ID || created {
		t.Fatalf("repeated create-and-notify: %v created %v, %v", again, created, err)
	}
}

// TestServiceConfirmerAdditionsAreValidated: what a confirmer adds to an
// accepted action becomes part of the record, so it must pass the same
// validation as the caller's declaration (Resolve already checks it).
func TestServiceConfirmerAdditionsAreValidated(t *testing.T) {
	conf := core.ConfirmerFunc(func(context.Context, *core.EventDocument, *core.Action) (core.Confirmation, error) {
		return core.Confirmation{Decision: core.Accept, Declaration: core.Declaration{"child.nid": []byte(`12345`), "no.such.field": []byte(`"x"`)}}, nil
	})
	svc, _ := newService(t, conf)
	p := systemClient(t, allRecordScopes...)
	ev, _, err := svc.CreateAndNotify(context.Background(), p, core.CreateAndNotifyInput{TransactionID: "tx-1", EventType: "birth",
		CreatedAtLocation: fl.IbomboOffice, Declaration: decl(t, `{"child.gender":"female"}`)})
	if err == nil {
		t.Fatalf("the confirmer's invalid declaration was stored: %s", core.Derive(ev).Declaration)
	}
	var ce *core.Error
	if !errors.As(err, &ce) || len(ce.Fields) == 0 || ce.Fields[0].ID != "child.nid" && ce.Fields[0].ID != "no.such.field" {
		t.Fatalf("err = %#v, want the bad fields named", err)
	}
}

func TestServiceSearchAccess(t *testing.T) {
	svc, store := newService(t, nil)
	ctx := context.Background()
	body := []byte(clause(`{"eventType":"birth"}`))
	query, err := searchquery.Parse(body, farajaland(t), testNow)
	if err != nil {
		t.Fatal(err)
	}
	view := func(w core.Filter) string { return fmt.Sprintf("%+v", w) }
	search := func(office string, scopes ...string) (core.Filter, error) {
		t.Helper()
		store.lastSearch = nil
		p := core.Principal{ID: "u", Type: core.UserTypeUser, Office: office, Scopes: mustScopes(t, scopes...)}
		if _, err := svc.Search(ctx, p, query, body); err != nil {
			return core.Filter{}, err
		}
		if store.lastSearch == nil {
			t.Fatal("search did not reach the store")
		}
		return store.lastSearch.Where, nil
	}
	// unrestricted: the query alone
	alone := query
	for _, scopes := range [][]string{
		{"type=record.search&event=all&placeOfEvent=all"},
		{"record.search"},
		{"type=record.search&event=birth", "recordsearch"}, // one unrestricted scope is enough
	} {
		w, err := search(fl.IbomboOffice, scopes...)
		if err != nil || !reflect.DeepEqual(w, alone.Where) {
			t.Fatalf("%v must not add an access filter: %s %v", scopes, view(w), err)
		}
	}
	accessOf := func(w core.Filter) []*core.Cond {
		t.Helper()
		if w.Op != "and" || len(w.Children) != 2 || w.Children[1].Op != "or" {
			t.Fatalf("want query AND access, got %s", view(w))
		}
		var out []*core.Cond
		for _, alt := range w.Children[1].Children {
			for _, c := range alt.Children {
				out = append(out, c.Cond)
			}
		}
		return out
	}
	// event types
	w, err := search(fl.IbomboOffice, "type=record.search&event=death")
	if err != nil {
		t.Fatal(err)
	}
	if c := accessOf(w); len(c) != 1 || c[0].Column != core.ColType || !slices.Equal(c[0].Values, []string{"death"}) {
		t.Fatalf("event-limited access: %+v", c)
	}
	// jurisdiction options each limit their own location
	for _, tc := range []struct {
		opt string
		col core.Column
	}{
		{"declaredIn", core.ColDeclaredAtLocation},
		{"registeredIn", core.ColRegisteredAtLocation},
	} {
		w, err = search(fl.IbomboOffice, "type=record.search&"+tc.opt+"=location")
		if err != nil {
			t.Fatal(err)
		}
		if c := accessOf(w); len(c) != 1 || c[0].Column != tc.col || !slices.Equal(c[0].Values, []string{fl.IbomboOffice}) {
			t.Errorf("%s=location: %+v, want %s in [office]", tc.opt, c, tc.col)
		}
		w, err = search(fl.IbomboOffice, "type=record.search&"+tc.opt+"=administrativeArea")
		if err != nil {
			t.Fatal(err)
		}
		if c := accessOf(w); len(c) != 1 || c[0].Column != tc.col || !slices.Contains(c[0].Values, fl.IbomboHospital) || slices.Contains(c[0].Values, fl.IlangaOffice) {
			t.Errorf("%s=administrativeArea: %+v, want %s in Ibombo's subtree", tc.opt, c, tc.col)
		}
	}
	// placeOfEvent limits the place of the event
	if w, err = search(fl.IbomboHospital, "type=record.search&placeOfEvent=administrativeArea"); err != nil {
		t.Fatal(err)
	}
	if c := accessOf(w); len(c) != 1 || c[0].Column != core.ColPlaceOfEvent || !slices.Contains(c[0].Values, fl.Chikobo) || slices.Contains(c[0].Values, fl.IlangaHospital) {
		t.Errorf("placeOfEvent=administrativeArea: %+v", c)
	}
	// declaredBy=user / registeredBy=user: the caller's own records
	if w, err = search(fl.IbomboOffice, "type=record.search&declaredBy=user"); err != nil {
		t.Fatal(err)
	}
	if c := accessOf(w); len(c) != 1 || c[0].Column != core.ColDeclaredBy || !slices.Equal(c[0].Values, []string{"u"}) {
		t.Errorf("declaredBy=user: %+v", c)
	}
	// a v1.9 search[access=my-jurisdiction] scope is limited too
	if w, err = search(fl.IbomboOffice, "search[event=birth,access=my-jurisdiction]"); err != nil {
		t.Fatal(err)
	}
	if c := accessOf(w); len(c) != 2 || c[1].Column != core.ColPlaceOfEvent {
		t.Errorf("v1.9 my-jurisdiction: %+v", c)
	}
	// an option the hub does not enforce reaches nothing (fail closed)
	if w, err = search(fl.IbomboOffice, "type=record.search&event=birth&someFutureLimit=x"); err != nil {
		t.Fatal(err)
	}
	if w.Op != "and" || len(w.Children) != 2 || w.Children[1].Op != "or" || len(w.Children[1].Children) != 0 {
		t.Errorf("unknown option: want an access filter matching nothing, got %s", view(w))
	}
	// two limited scopes: either one admits an event; options of one scope all apply
	if w, err = search(fl.IbomboOffice, "type=record.search&event=birth&registeredIn=location", "type=record.search&event=death"); err != nil {
		t.Fatal(err)
	}
	if alts := w.Children[1].Children; len(alts) != 2 || len(alts[0].Children) != 2 || len(alts[1].Children) != 1 ||
		alts[0].Children[0].Cond.Column != core.ColType || alts[0].Children[1].Cond.Column != core.ColRegisteredAtLocation {
		t.Errorf("two scopes: %s", view(w))
	}
	// a jurisdiction without an office reaches nothing, whatever the order
	// of the caller's scopes; another unlimited scope still reaches all
	if w, err := search("", "type=record.search&declaredIn=location"); err != nil || w.Op != "and" || len(w.Children[1].Children) != 0 {
		t.Errorf("no office: %s %v", view(w), err)
	}
	for _, scopes := range [][]string{
		{"type=record.search&event=birth&placeOfEvent=location", "record.search"},
		{"record.search", "type=record.search&event=birth&placeOfEvent=location"},
	} {
		if w, err := search("", scopes...); err != nil || !reflect.DeepEqual(w, alone.Where) {
			t.Errorf("no office, %v: %s %v", scopes, view(w), err)
		}
	}
	// no record.search scope
	if _, err := search(fl.IbomboOffice, "record.read"); core.KindOf(err) != core.KindForbidden {
		t.Errorf("no search scope: %v", err)
	}
	// a page out of bounds is a 400 before the store is asked
	for _, page := range [][2]int{{0, 0}, {core.MaxSearchLimit + 1, 0}, {10, -1}, {10, core.MaxSearchOffset + 1}} {
		store.lastSearch = nil
		bad := query
		bad.Limit, bad.Offset = page[0], page[1]
		_, err = svc.Search(ctx, core.Principal{Scopes: mustScopes(t, "record.search")}, bad, body)
		if !errors.As(err, new(*core.Error)) || core.KindOf(err) != core.KindInvalid || store.lastSearch != nil {
			t.Errorf("limit %d offset %d: %v", page[0], page[1], err)
		}
	}
}

// TestServiceDeferredRegisterKeepsTheCallersNumber: a registrationNumber
// sent with REGISTER must survive a deferred confirmation.
func TestServiceDeferredRegisterKeepsTheCallersNumber(t *testing.T) {
	conf := deferring(core.ActionRegister)
	svc, _ := newService(t, conf)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	full := `{"child.name":{"firstname":"A","surname":"B"},"child.gender":"male","child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"` + fl.IbomboHospital + `","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}}`
	ev, err := svc.CreateEvent(ctx, p, core.CreateInput{TransactionID: "tx-c", Type: "birth", CreatedAtLocation: fl.IbomboOffice})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: "tx-d", CreatedAtLocation: fl.IbomboOffice, Declaration: decl(t, full)}); err != nil {
		t.Fatal(err)
	}
	ev, err = svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionRegister, TransactionID: "tx-r", CreatedAtLocation: fl.IbomboOffice, RegistrationNumber: "CALLER-0001"})
	if err != nil {
		t.Fatal(err)
	}
	st := core.Derive(ev)
	if st.Pending == nil {
		t.Fatalf("REGISTER should be pending: %v", st.Flags)
	}
	ev, err = svc.Resolve(ctx, p, ev.ID, st.Pending.ID, core.Confirmation{Decision: core.Accept})
	if err != nil {
		t.Fatal(err)
	}
	if got := core.Derive(ev).Registered.RegistrationNumber; got != "CALLER-0001" {
		t.Fatalf("a deferred REGISTER got %q, want the caller's CALLER-0001", got)
	}
}

// TestServiceEditKeepsRequiredFields: EDIT may not blank a required field
// of a declared record, while an incomplete notification may stay
// incomplete.
func TestServiceEditKeepsRequiredFields(t *testing.T) {
	svc, _ := newService(t, nil)
	ctx := context.Background()
	p := systemClient(t, allRecordScopes...)
	ev, _, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: "tx-e", EventType: "birth", CreatedAtLocation: fl.IbomboOffice,
		Declaration: decl(t, `{"child.gender":"female"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionEdit, TransactionID: "tx-e1", CreatedAtLocation: fl.IbomboOffice,
		Declaration: decl(t, `{"child.gender":"male"}`)}); err != nil {
		t.Fatalf("EDIT of an incomplete notification: %v", err)
	}
	full := `{"child.name":{"firstname":"A","surname":"B"},"child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"` + fl.IbomboHospital + `","informant.relation":"MOTHER","mother.name":{"firstname":"M","surname":"B"}}`
	if _, err := svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: "tx-e2", CreatedAtLocation: fl.IbomboOffice, Declaration: decl(t, full)}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionEdit, TransactionID: "tx-e3", CreatedAtLocation: fl.IbomboOffice,
		Declaration: decl(t, `{"child.name":null}`)})
	if e := coreErr(t, err); e.Kind != core.KindInvalid || !strings.Contains(e.Message, "child.name") {
		t.Fatalf("EDIT blanking child.name on a declared record: %v", err)
	}
}
