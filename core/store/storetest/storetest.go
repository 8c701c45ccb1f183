// Package storetest is the contract suite every core.Store implementation
// must pass (core/store/sqlite now, core/store/postgres later).
//
// An implementation's tests call Run with a function that opens a new,
// empty store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) core.Store {
//			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlite.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// Run calls open once per subtest and closes the store when the subtest
// ends, so Close must be safe to call twice.
//
// Beyond the core.Store doc comments, the suite pins down these choices so
// that every engine behaves the same:
//
//   - Times come back in UTC, equal to what was written, to the nanosecond.
//   - An event's transaction id (for EventByTransaction and the
//     (createdBy, transactionId, type) uniqueness) is that of its CREATE
//     action; an event without one (or with an empty one) has none.
//     Transaction ids are per caller: the same id from another caller is
//     another request (another event, another action).
//   - PutIndex for an event that does not exist fails with ErrNotFound.
//   - Search ties are broken by event id, in the direction of the last sort
//     key; bare-date bounds on the time columns cover the whole day; an
//     empty "or" matches nothing and an empty "and" everything.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

// Run runs the contract suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) core.Store) {
	fresh := func(t *testing.T) core.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("Events", func(t *testing.T) { testEvents(t, fresh) })
	t.Run("InsertConflicts", func(t *testing.T) { testInsertConflicts(t, fresh) })
	t.Run("AppendActions", func(t *testing.T) { testAppendActions(t, fresh) })
	t.Run("Index", func(t *testing.T) { testIndex(t, fresh) })
	t.Run("Search", func(t *testing.T) { testSearch(t, fresh) })
	t.Run("Clients", func(t *testing.T) { testClients(t, fresh) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, fresh) })
	t.Run("Write", func(t *testing.T) { testWrite(t, fresh, open) })
	t.Run("Queues", func(t *testing.T) { testQueues(t, fresh) })
	t.Run("RegistrationNumbers", func(t *testing.T) { testRegistrationNumbers(t, fresh) })
}

// write runs fn in one Write and fails the test on error.
func write(t *testing.T, s core.Store, fn func(tx core.Tx) error) {
	t.Helper()
	if err := s.Write(context.Background(), fn); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// zone is a non-UTC location: stores must hand times back in UTC.
var zone = time.FixedZone("UTC+3", 3*3600)

// at returns a fixed instant with nanoseconds, in zone, plus d.
func at(d time.Duration) time.Time {
	return time.Date(2024, 5, 17, 9, 30, 15, 123456789, zone).Add(d)
}

// testCaller is the creator of fullAction's actions.
const testCaller = "user-1"

// fullAction returns an action with every field set.
func fullAction(id, txID string, typ core.ActionType, status core.ActionStatus, d time.Duration) core.Action {
	return core.Action{
		ID:                id,
		Type:              typ,
		Status:            status,
		TransactionID:     txID,
		CreatedBy:         testCaller, // one caller: transaction ids are per caller
		CreatedByUserType: core.UserTypeUser,
		CreatedByRole:     "REGISTRATION_AGENT",
		CreatedAt:         at(d),
		CreatedAtLocation: "loc-" + id,
		Declaration: core.Declaration{
			"child.name":      json.RawMessage(`{"firstname": "Anna", "surname": "Smith"}`),
			"child.dob":       json.RawMessage(`"2024-01-02"`),
			"child.weight":    json.RawMessage(`3.25`),
			"child.multiple":  json.RawMessage(`[1, "two", {"three": 3}]`),
			"child.twin":      json.RawMessage(`false`),
			"informant.email": json.RawMessage(`null`),
			"child.place":     json.RawMessage(`"K\u00f6ln \"quoted\" \\ </script>"`),
		},
		Annotation: core.Declaration{
			"review.comment": json.RawMessage(`"looks fine"`),
			"review.signed":  json.RawMessage(`true`),
		},
		Content:            map[string]any{"templateId": "birth-cert", "copies": 2.0, "nested": map[string]any{"a": []any{1.5, "x", nil}}},
		OriginalActionID:   "orig-" + id,
		RegistrationNumber: "REG-" + id,
		AssignedTo:         "assignee-" + id,
		RequestID:          "req-" + id,
	}
}

// newEvent returns an event whose CREATE action uses transaction txID.
func newEvent(id, typ, trackingID, txID string) *core.EventDocument {
	return &core.EventDocument{
		ID:         id,
		Type:       typ,
		TrackingID: trackingID,
		CreatedAt:  at(0),
		UpdatedAt:  at(time.Second),
		Actions: []core.Action{
			fullAction(id+"-create", txID, core.ActionCreate, core.StatusAccepted, 0),
		},
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func checkTime(t *testing.T, what string, want, got time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}

func checkDeclaration(t *testing.T, what string, want, got core.Declaration) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s has %d keys, want %d: %v", what, len(got), len(want), got)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s[%q] missing", what, k)
			continue
		}
		if !jsonEqual(w, g) {
			t.Errorf("%s[%q] = %s, want %s", what, k, g, w)
		}
	}
}

// checkEvent compares every field of two events, JSON values semantically
// and times as instants that must come back in UTC.
func checkEvent(t *testing.T, want, got *core.EventDocument) {
	t.Helper()
	if got == nil {
		t.Fatal("event is nil")
	}
	if got.ID != want.ID || got.Type != want.Type || got.TrackingID != want.TrackingID {
		t.Errorf("event = (%q, %q, %q), want (%q, %q, %q)", got.ID, got.Type, got.TrackingID, want.ID, want.Type, want.TrackingID)
	}
	checkTime(t, "event.CreatedAt", want.CreatedAt, got.CreatedAt)
	checkTime(t, "event.UpdatedAt", want.UpdatedAt, got.UpdatedAt)
	if len(got.Actions) != len(want.Actions) {
		t.Fatalf("event has %d actions, want %d", len(got.Actions), len(want.Actions))
	}
	for i := range want.Actions {
		w, g := want.Actions[i], got.Actions[i]
		name := fmt.Sprintf("action[%d] (%s)", i, w.ID)
		checkTime(t, name+".CreatedAt", w.CreatedAt, g.CreatedAt)
		checkDeclaration(t, name+".Declaration", w.Declaration, g.Declaration)
		checkDeclaration(t, name+".Annotation", w.Annotation, g.Annotation)
		wc, _ := json.Marshal(w.Content)
		gc, _ := json.Marshal(g.Content)
		if !jsonEqual(wc, gc) {
			t.Errorf("%s.Content = %s, want %s", name, gc, wc)
		}
		// Everything else must be identical.
		w.CreatedAt, g.CreatedAt = time.Time{}, time.Time{}
		w.Declaration, g.Declaration = nil, nil
		w.Annotation, g.Annotation = nil, nil
		w.Content, g.Content = nil, nil
		if !reflect.DeepEqual(w, g) {
			t.Errorf("%s = %+v, want %+v", name, g, w)
		}
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want %v", what, err, target)
	}
}

func mustNotFind(t *testing.T, s core.Store, id string) {
	t.Helper()
	_, err := s.Event(context.Background(), id)
	wantErr(t, "Event("+id+")", err, core.ErrNotFound)
}

func testEvents(t *testing.T, fresh func(*testing.T) core.Store) {
	ctx := context.Background()
	t.Run("RoundTrip", func(t *testing.T) {
		s := fresh(t)
		ev := newEvent("ev-1", "birth", "TRK-1", "tx-1")
		ev.Actions = append(ev.Actions,
			fullAction("ev-1-declare-req", "tx-2", core.ActionDeclare, core.StatusRequested, time.Minute),
			fullAction("ev-1-declare", "tx-2", core.ActionDeclare, core.StatusAccepted, 2*time.Minute),
			// A minimal action: empty optional fields must stay empty.
			core.Action{ID: "ev-1-read", Type: core.ActionRead, Status: core.StatusAccepted, CreatedBy: "u",
				CreatedByUserType: core.UserTypeSystem, CreatedAt: at(3 * time.Minute)},
			// Actions without a transaction id do not collide.
			core.Action{ID: "ev-1-read-2", Type: core.ActionRead, Status: core.StatusAccepted, CreatedBy: "u",
				CreatedByUserType: core.UserTypeSystem, CreatedAt: at(4 * time.Minute),
				Declaration: core.Declaration{}},
		)
		var inTx *core.EventDocument
		write(t, s, func(tx core.Tx) error {
			if err := tx.InsertEvent(ev); err != nil {
				return err
			}
			var err error
			inTx, err = tx.Event("ev-1") // reads its own write
			return err
		})
		checkEvent(t, ev, inTx)
		got, err := s.Event(ctx, "ev-1")
		if err != nil {
			t.Fatal(err)
		}
		checkEvent(t, ev, got)
		if ev.Actions[0].CreatedAt.Location() != zone {
			t.Error("InsertEvent changed the caller's action")
		}

		id, err := s.EventIDByTrackingID(ctx, "TRK-1")
		if err != nil || id != "ev-1" {
			t.Errorf("EventIDByTrackingID = %q, %v; want ev-1", id, err)
		}
		write(t, s, func(tx core.Tx) error {
			got, err := tx.EventByTransaction(testCaller, "tx-1", "birth")
			if err != nil {
				return err
			}
			checkEvent(t, ev, got)
			return nil
		})
	})
	t.Run("TransactionIsTheCreates", func(t *testing.T) {
		// Only the CREATE action's transaction identifies the event.
		s := fresh(t)
		ev := &core.EventDocument{ID: "ev-1", Type: "birth", TrackingID: "TRK-1", CreatedAt: at(0), UpdatedAt: at(0),
			Actions: []core.Action{
				fullAction("a-notify", "tx-notify", core.ActionNotify, core.StatusAccepted, 0),
				fullAction("a-create", "tx-create", core.ActionCreate, core.StatusAccepted, 0),
			}}
		noCreate := &core.EventDocument{ID: "ev-2", Type: "birth", TrackingID: "TRK-2", CreatedAt: at(0), UpdatedAt: at(0),
			Actions: []core.Action{fullAction("b-notify", "tx-other", core.ActionNotify, core.StatusAccepted, 0)}}
		write(t, s, func(tx core.Tx) error {
			if err := tx.InsertEvent(ev); err != nil {
				return err
			}
			if err := tx.InsertEvent(noCreate); err != nil {
				return err
			}
			got, err := tx.EventByTransaction(testCaller, "tx-create", "birth")
			if err != nil || got.ID != "ev-1" {
				t.Errorf("EventByTransaction(tx-create) = %v, %v; want ev-1", got, err)
			}
			for _, txID := range []string{"tx-notify", "tx-other", ""} {
				_, err = tx.EventByTransaction(testCaller, txID, "birth")
				wantErr(t, "EventByTransaction("+txID+")", err, core.ErrNotFound)
			}
			return nil
		})
	})
	t.Run("NoActions", func(t *testing.T) {
		s := fresh(t)
		ev := &core.EventDocument{ID: "ev-0", Type: "birth", TrackingID: "TRK-0", CreatedAt: at(0), UpdatedAt: at(0)}
		write(t, s, func(tx core.Tx) error { return tx.InsertEvent(ev) })
		got, err := s.Event(ctx, "ev-0")
		if err != nil {
			t.Fatal(err)
		}
		checkEvent(t, ev, got)
	})
	t.Run("NotFound", func(t *testing.T) {
		s := fresh(t)
		write(t, s, func(tx core.Tx) error { return tx.InsertEvent(newEvent("ev-1", "birth", "TRK-1", "tx-1")) })
		mustNotFind(t, s, "ev-2")
		_, err := s.EventIDByTrackingID(ctx, "TRK-2")
		wantErr(t, "EventIDByTrackingID", err, core.ErrNotFound)
		write(t, s, func(tx core.Tx) error {
			_, err := tx.Event("ev-2")
			wantErr(t, "Tx.Event", err, core.ErrNotFound)
			_, err = tx.EventByTransaction(testCaller, "tx-1", "death")
			wantErr(t, "Tx.EventByTransaction (other type)", err, core.ErrNotFound)
			_, err = tx.EventByTransaction(testCaller, "tx-9", "birth")
			wantErr(t, "Tx.EventByTransaction (other transaction)", err, core.ErrNotFound)
			return nil
		})
	})
}

func testInsertConflicts(t *testing.T, fresh func(*testing.T) core.Store) {
	for _, tc := range []struct {
		name string
		ev   *core.EventDocument
		want error
	}{
		{"TrackingID", newEvent("ev-2", "birth", "TRK-1", "tx-2"), core.ErrTrackingIDTaken},
		{"ID", newEvent("ev-1", "birth", "TRK-2", "tx-2"), core.ErrDuplicate},
		{"TransactionAndType", newEvent("ev-2", "birth", "TRK-2", "tx-1"), core.ErrDuplicate},
		{"ActionTransaction", func() *core.EventDocument {
			// Its CREATE is new, but a second action repeats ev-1's
			// (transactionId, type, status).
			ev := newEvent("ev-2", "death", "TRK-2", "tx-2")
			ev.Actions = append(ev.Actions, fullAction("ev-2-dup", "tx-1", core.ActionCreate, core.StatusAccepted, 0))
			return ev
		}(), core.ErrDuplicate},
		{"ActionID", func() *core.EventDocument {
			ev := newEvent("ev-2", "death", "TRK-2", "tx-2")
			ev.Actions = append(ev.Actions, fullAction("ev-1-create", "tx-3", core.ActionNotify, core.StatusAccepted, 0))
			return ev
		}(), core.ErrDuplicate},
		{"ActionRepeatedInEvent", func() *core.EventDocument {
			ev := newEvent("ev-2", "death", "TRK-2", "tx-2")
			ev.Actions = append(ev.Actions, fullAction("ev-2-b", "tx-2", core.ActionCreate, core.StatusAccepted, 0))
			return ev
		}(), core.ErrDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fresh(t)
			write(t, s, func(tx core.Tx) error { return tx.InsertEvent(newEvent("ev-1", "birth", "TRK-1", "tx-1")) })
			err := s.Write(context.Background(), func(tx core.Tx) error { return tx.InsertEvent(tc.ev) })
			wantErr(t, "InsertEvent", err, tc.want)
			if tc.ev.ID != "ev-1" {
				mustNotFind(t, s, tc.ev.ID)
			}
			got, err := s.Event(context.Background(), "ev-1")
			if err != nil {
				t.Fatal(err)
			}
			checkEvent(t, newEvent("ev-1", "birth", "TRK-1", "tx-1"), got)
			if _, err := s.EventIDByTrackingID(context.Background(), "TRK-2"); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("failed insert left tracking id TRK-2 behind: %v", err)
			}
			// Nothing of the failed event is left: its new actions can be
			// stored with a fresh event.
			var left []core.Action
			for _, a := range tc.ev.Actions {
				if a.TransactionID != "tx-1" && a.ID != "ev-1-create" && a.ID != "ev-2-b" {
					left = append(left, a)
				}
			}
			ev3 := &core.EventDocument{ID: "ev-3", Type: "other", TrackingID: "TRK-3", CreatedAt: at(0), UpdatedAt: at(0), Actions: left}
			write(t, s, func(tx core.Tx) error { return tx.InsertEvent(ev3) })
		})
	}
	t.Run("SameTransactionOtherType", func(t *testing.T) {
		// (transactionId, type) is the event's identity, but the CREATE
		// action's (transactionId, type, status) is unique across events,
		// so the same transaction cannot create two events either.
		s := fresh(t)
		write(t, s, func(tx core.Tx) error { return tx.InsertEvent(newEvent("ev-1", "birth", "TRK-1", "tx-1")) })
		err := s.Write(context.Background(), func(tx core.Tx) error {
			return tx.InsertEvent(newEvent("ev-2", "death", "TRK-2", "tx-1"))
		})
		wantErr(t, "InsertEvent", err, core.ErrDuplicate)
	})
	t.Run("TransactionIDsArePerCaller", func(t *testing.T) {
		// Two callers may use the same transaction id: two events, two
		// CREATE actions, and each finds only its own.
		s := fresh(t)
		mine := newEvent("ev-1", "birth", "TRK-1", "tx-1")
		theirs := newEvent("ev-2", "birth", "TRK-2", "tx-1")
		theirs.Actions[0].CreatedBy = "another-client"
		write(t, s, func(tx core.Tx) error {
			if err := tx.InsertEvent(mine); err != nil {
				return err
			}
			return tx.InsertEvent(theirs)
		})
		write(t, s, func(tx core.Tx) error {
			for caller, want := range map[string]string{testCaller: "ev-1", "another-client": "ev-2"} {
				got, err := tx.EventByTransaction(caller, "tx-1", "birth")
				if err != nil || got.ID != want {
					t.Errorf("EventByTransaction(%s, tx-1) = %v, %v; want %s", caller, got, err, want)
				}
			}
			_, err := tx.EventByTransaction("a-third-client", "tx-1", "birth")
			wantErr(t, "EventByTransaction(a third caller)", err, core.ErrNotFound)
			// the same caller repeating an action transaction id is a duplicate
			dup := fullAction("ev-2-dup", "tx-1", core.ActionCreate, core.StatusAccepted, 0)
			dup.CreatedBy = "another-client"
			wantErr(t, "AppendActions (same caller)", tx.AppendActions("ev-1", at(time.Hour), dup), core.ErrDuplicate)
			return nil
		})
	})
	t.Run("FailedInsertInsideLargerWrite", func(t *testing.T) {
		// fn goes on after a failed InsertEvent and commits: the failed
		// insert must have left nothing, the rest must be stored.
		s := fresh(t)
		write(t, s, func(tx core.Tx) error { return tx.InsertEvent(newEvent("ev-1", "birth", "TRK-1", "tx-1")) })
		bad := newEvent("ev-2", "birth", "TRK-2", "tx-2")
		bad.Actions = append(bad.Actions, fullAction("ev-2-x", "tx-1", core.ActionCreate, core.StatusAccepted, 0))
		write(t, s, func(tx core.Tx) error {
			wantErr(t, "InsertEvent", tx.InsertEvent(bad), core.ErrDuplicate)
			if _, err := tx.Event("ev-2"); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("failed insert visible inside the transaction: %v", err)
			}
			return tx.InsertEvent(newEvent("ev-3", "birth", "TRK-3", "tx-3"))
		})
		mustNotFind(t, s, "ev-2")
		if _, err := s.Event(context.Background(), "ev-3"); err != nil {
			t.Fatal(err)
		}
		// ev-2's CREATE (id ev-2-create, tx-2) was not left behind.
		write(t, s, func(tx core.Tx) error { return tx.InsertEvent(newEvent("ev-2", "birth", "TRK-2", "tx-2")) })
	})
}

func testAppendActions(t *testing.T, fresh func(*testing.T) core.Store) {
	ctx := context.Background()
	setup := func(t *testing.T) core.Store {
		s := fresh(t)
		write(t, s, func(tx core.Tx) error {
			if err := tx.InsertEvent(newEvent("ev-1", "birth", "TRK-1", "tx-1")); err != nil {
				return err
			}
			return tx.InsertEvent(newEvent("ev-2", "birth", "TRK-2", "tx-2"))
		})
		return s
	}
	t.Run("Appends", func(t *testing.T) {
		s := setup(t)
		a1 := fullAction("a1", "tx-10", core.ActionDeclare, core.StatusRequested, time.Hour)
		a2 := fullAction("a2", "tx-10", core.ActionDeclare, core.StatusAccepted, time.Hour)
		a3 := fullAction("a3", "tx-11", core.ActionValidate, core.StatusAccepted, 2*time.Hour)
		write(t, s, func(tx core.Tx) error { return tx.AppendActions("ev-1", at(time.Hour), a1, a2) })
		write(t, s, func(tx core.Tx) error { return tx.AppendActions("ev-1", at(2*time.Hour), a3) })
		want := newEvent("ev-1", "birth", "TRK-1", "tx-1")
		want.UpdatedAt = at(2 * time.Hour)
		want.Actions = append(want.Actions, a1, a2, a3)
		got, err := s.Event(ctx, "ev-1")
		if err != nil {
			t.Fatal(err)
		}
		checkEvent(t, want, got)
		// The other event is untouched.
		got, err = s.Event(ctx, "ev-2")
		if err != nil {
			t.Fatal(err)
		}
		checkEvent(t, newEvent("ev-2", "birth", "TRK-2", "tx-2"), got)
	})
	t.Run("ReadReplacesTheReadersEarlierRead", func(t *testing.T) {
		s := setup(t)
		read := func(id, by string, d time.Duration) core.Action {
			a := fullAction(id, "tx-"+id, core.ActionRead, core.StatusAccepted, d)
			a.CreatedBy, a.Declaration, a.Annotation, a.Content, a.OriginalActionID = by, core.Declaration{}, nil, nil, ""
			return a
		}
		a1 := fullAction("a1", "tx-10", core.ActionNotify, core.StatusAccepted, time.Hour)
		r1, r2 := read("r1", "reader-a", 2*time.Hour), read("r2", "reader-b", 3*time.Hour)
		write(t, s, func(tx core.Tx) error { return tx.AppendActions("ev-1", at(time.Hour), a1) })
		write(t, s, func(tx core.Tx) error { return tx.AppendActions("ev-1", at(time.Hour), r1) })
		write(t, s, func(tx core.Tx) error { return tx.AppendActions("ev-1", at(time.Hour), r2) })
		// reader-a reads again, many times: only its latest READ stays, and
		// the other reader's and the other event's rows are untouched
		var last core.Action
		for i := range 50 {
			last = read(fmt.Sprintf("r-a-%d", i), "reader-a", time.Duration(4+i)*time.Hour)
			write(t, s, func(tx core.Tx) error { return tx.AppendActions("ev-1", at(time.Hour), last) })
		}
		write(t, s, func(tx core.Tx) error { return tx.AppendActions("ev-2", at(0), read("r3", "reader-a", time.Hour)) })
		want := newEvent("ev-1", "birth", "TRK-1", "tx-1")
		want.UpdatedAt = at(time.Hour)
		want.Actions = append(want.Actions, a1, r2, last)
		got, err := s.Event(ctx, "ev-1")
		if err != nil {
			t.Fatal(err)
		}
		checkEvent(t, want, got)
		got, err = s.Event(ctx, "ev-2")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(got.Actions); n != 2 || got.Actions[1].ID != "r3" {
			t.Errorf("ev-2 has %d actions, want its CREATE and r3", n)
		}
	})
	for _, tc := range []struct {
		name    string
		eventID string
		actions []core.Action
		want    error
	}{
		{"MissingEvent", "ev-9", []core.Action{fullAction("a1", "tx-10", core.ActionNotify, core.StatusAccepted, 0)}, core.ErrNotFound},
		{"DuplicateTransaction", "ev-1", []core.Action{
			fullAction("a1", "tx-10", core.ActionNotify, core.StatusAccepted, 0),
			fullAction("a2", "tx-2", core.ActionCreate, core.StatusAccepted, 0), // ev-2's CREATE
		}, core.ErrDuplicate},
		{"DuplicateID", "ev-1", []core.Action{
			fullAction("a1", "tx-10", core.ActionNotify, core.StatusAccepted, 0),
			fullAction("ev-1-create", "tx-11", core.ActionNotify, core.StatusAccepted, 0),
		}, core.ErrDuplicate},
		{"DuplicateWithinCall", "ev-1", []core.Action{
			fullAction("a1", "tx-10", core.ActionNotify, core.StatusAccepted, 0),
			fullAction("a2", "tx-10", core.ActionNotify, core.StatusAccepted, 0),
		}, core.ErrDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := setup(t)
			// fn ignores the error and commits: nothing may have been added.
			write(t, s, func(tx core.Tx) error {
				err := tx.AppendActions(tc.eventID, at(time.Hour), tc.actions...)
				wantErr(t, "AppendActions", err, tc.want)
				return nil
			})
			mustNotFind(t, s, "ev-9")
			for _, id := range []string{"ev-1", "ev-2"} {
				got, err := s.Event(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				checkEvent(t, newEvent(id, "birth", "TRK-"+id[3:], "tx-"+id[3:]), got) // updatedAt unchanged too
			}
			// a1 was not stored: it can be appended now.
			write(t, s, func(tx core.Tx) error {
				return tx.AppendActions("ev-1", at(time.Hour), fullAction("a1", "tx-10", core.ActionNotify, core.StatusAccepted, 0))
			})
		})
	}
}

// ids decodes the "id" of each EventIndex document of a page.
func ids(t *testing.T, p core.SearchPage) []string {
	t.Helper()
	out := make([]string, 0, len(p.Results))
	for _, r := range p.Results {
		var d struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(r, &d); err != nil {
			t.Fatalf("result %s: %v", r, err)
		}
		out = append(out, d.ID)
	}
	return out
}

func search(t *testing.T, s core.Store, f core.SearchFilter) core.SearchPage {
	t.Helper()
	p, err := s.Search(context.Background(), f)
	if err != nil {
		t.Fatalf("Search(%+v): %v", f, err)
	}
	return p
}

func testIndex(t *testing.T, fresh func(*testing.T) core.Store) {
	ctx := context.Background()
	setup := func(t *testing.T) core.Store {
		s := fresh(t)
		write(t, s, func(tx core.Tx) error {
			for i := 1; i <= 3; i++ {
				id := fmt.Sprintf("ev-%d", i)
				if err := tx.InsertEvent(newEvent(id, "birth", "TRK-"+id, "tx-"+id)); err != nil {
					return err
				}
			}
			return nil
		})
		return s
	}
	row := func(id, reg string) *core.IndexRow {
		return &core.IndexRow{EventID: id, Type: "birth", Status: "REGISTERED", TrackingID: "TRK-" + id,
			RegistrationNumber: reg, CreatedAt: at(0), UpdatedAt: at(0), Doc: json.RawMessage(`{"id":"` + id + `"}`)}
	}
	t.Run("RegistrationNumber", func(t *testing.T) {
		s := setup(t)
		write(t, s, func(tx core.Tx) error {
			if err := tx.PutIndex(row("ev-1", "REG-1")); err != nil {
				return err
			}
			// Unregistered events do not collide with each other.
			if err := tx.PutIndex(row("ev-2", "")); err != nil {
				return err
			}
			return tx.PutIndex(row("ev-3", ""))
		})
		err := s.Write(ctx, func(tx core.Tx) error { return tx.PutIndex(row("ev-2", "REG-1")) })
		wantErr(t, "PutIndex", err, core.ErrRegistrationNumberTaken)
		// Inside a larger write the failed PutIndex leaves ev-2 as it was.
		write(t, s, func(tx core.Tx) error {
			wantErr(t, "PutIndex", tx.PutIndex(row("ev-2", "REG-1")), core.ErrRegistrationNumberTaken)
			return nil
		})
		reg := func(n string) []string {
			return ids(t, search(t, s, core.SearchFilter{Limit: 10, Where: leaf(core.ColRegistrationNumber, core.OpIn, n)}))
		}
		if got := reg("REG-1"); !reflect.DeepEqual(got, []string{"ev-1"}) {
			t.Errorf("REG-1 -> %v, want [ev-1]", got)
		}
		// The owner may re-put its own number, and a freed number is free.
		write(t, s, func(tx core.Tx) error { return tx.PutIndex(row("ev-1", "REG-1")) })
		write(t, s, func(tx core.Tx) error { return tx.PutIndex(row("ev-1", "REG-9")) })
		write(t, s, func(tx core.Tx) error { return tx.PutIndex(row("ev-2", "REG-1")) })
		if got := reg("REG-1"); !reflect.DeepEqual(got, []string{"ev-2"}) {
			t.Errorf("REG-1 -> %v, want [ev-2]", got)
		}
	})
	t.Run("Replace", func(t *testing.T) {
		s := setup(t)
		r := row("ev-1", "")
		r.Status = "DECLARED"
		r.Flags = []string{"old-flag", "kept-flag"}
		r.Fields = []core.IndexField{
			{FieldID: "child.name", Kind: core.KindText, Text: "old name"},
			{FieldID: "child.name", Kind: core.KindToken, Text: "old"},
			{FieldID: "child.weight", Kind: core.KindNum, Num: 3},
		}
		write(t, s, func(tx core.Tx) error { return tx.PutIndex(r) })
		r2 := row("ev-1", "")
		r2.Status = "VALIDATED"
		r2.Flags = []string{"kept-flag", "new-flag"}
		r2.Fields = []core.IndexField{{FieldID: "child.name", Kind: core.KindText, Text: "new name"}}
		r2.Doc = json.RawMessage(`{"id":"ev-1","v":2}`)
		write(t, s, func(tx core.Tx) error { return tx.PutIndex(r2) })
		three := 3.0
		for _, tc := range []struct {
			name string
			f    core.Filter
			want int
		}{
			{"OldStatus", leaf(core.ColStatus, core.OpIn, "DECLARED"), 0},
			{"NewStatus", leaf(core.ColStatus, core.OpIn, "VALIDATED"), 1},
			{"OldFlag", leaf(core.ColFlag, core.OpIn, "old-flag"), 0},
			{"KeptFlag", leaf(core.ColFlag, core.OpIn, "kept-flag"), 1},
			{"NewFlag", leaf(core.ColFlag, core.OpIn, "new-flag"), 1},
			{"OldText", field("child.name", core.KindText, core.OpIn, "old name"), 0},
			{"OldToken", field("child.name", core.KindToken, core.OpIn, "old"), 0},
			{"OldNum", core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "child.weight", Kind: core.KindNum, Op: core.OpRange, NumLo: &three}}, 0},
			{"NewText", field("child.name", core.KindText, core.OpIn, "new name"), 1},
		} {
			p := search(t, s, core.SearchFilter{Limit: 10, Where: tc.f})
			if len(p.Results) != tc.want || p.Total != tc.want {
				t.Errorf("%s: %d results (total %d), want %d", tc.name, len(p.Results), p.Total, tc.want)
			}
		}
		p := search(t, s, core.SearchFilter{Limit: 10})
		if len(p.Results) != 1 || !jsonEqual(p.Results[0], r2.Doc) {
			t.Errorf("documents = %s, want only %s", p.Results, r2.Doc)
		}
	})
	t.Run("MissingEvent", func(t *testing.T) {
		s := setup(t)
		err := s.Write(ctx, func(tx core.Tx) error { return tx.PutIndex(row("ev-9", "")) })
		wantErr(t, "PutIndex", err, core.ErrNotFound)
	})
}

func testClients(t *testing.T, fresh func(*testing.T) core.Store) {
	ctx := context.Background()
	s := fresh(t)
	c1 := core.Client{ID: "c1", Name: "Hospital", SecretHash: "$argon2id$v=19$abc", Scopes: []string{"record.create", "record.read"},
		Office: "office-1", Status: core.ClientActive, CreatedAt: at(0), UpdatedAt: at(0)}
	c2 := core.Client{ID: "c0", Name: "NID", SecretHash: "h2", Scopes: []string{}, Status: core.ClientActive,
		CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
	check := func(want, got core.Client) {
		t.Helper()
		checkTime(t, "CreatedAt", want.CreatedAt, got.CreatedAt)
		checkTime(t, "UpdatedAt", want.UpdatedAt, got.UpdatedAt)
		want.CreatedAt, want.UpdatedAt, got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("client = %+v, want %+v", got, want)
		}
	}
	_, err := s.Client(ctx, "c1")
	wantErr(t, "Client before put", err, core.ErrNotFound)
	if cs, err := s.Clients(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("Clients on empty store = %v, %v", cs, err)
	}
	write(t, s, func(tx core.Tx) error {
		if _, err := tx.Client("c1"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("Tx.Client before put: %v", err)
		}
		if err := tx.PutClient(&c2); err != nil {
			return err
		}
		if err := tx.PutClient(&c1); err != nil {
			return err
		}
		got, err := tx.Client("c1")
		if err != nil {
			return err
		}
		check(c1, *got)
		return nil
	})
	got, err := s.Client(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	check(c1, *got)
	cs, err := s.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("Clients = %d, want 2", len(cs))
	}
	check(c1, cs[0]) // oldest first, whatever the ids
	check(c2, cs[1])

	upd := c1
	upd.Status = core.ClientDisabled
	upd.Scopes = []string{"record.read"}
	upd.SecretHash = "rotated"
	upd.Office = ""
	upd.UpdatedAt = at(2 * time.Hour)
	write(t, s, func(tx core.Tx) error { return tx.PutClient(&upd) })
	got, err = s.Client(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	check(upd, *got)
	if cs, _ := s.Clients(ctx); len(cs) != 2 {
		t.Errorf("update added a client: %d", len(cs))
	}
}

func testAudit(t *testing.T, fresh func(*testing.T) core.Store) {
	ctx := context.Background()
	s := fresh(t)
	entry := func(i int, actor, object string) core.AuditEntry {
		e := core.AuditEntry{At: at(time.Duration(i) * time.Second), ActorID: actor, ActorType: core.UserTypeUser,
			Operation: "event.create", ObjectType: "event", ObjectID: object,
			RemoteAddr: "10.0.0.1:1234", CorrelationID: fmt.Sprintf("corr-%d", i)}
		if i%2 == 0 {
			e.Detail = json.RawMessage(fmt.Sprintf(`{"i": %d, "s": "x"}`, i))
		}
		return e
	}
	var all []core.AuditEntry
	for i := 0; i < 10; i++ {
		all = append(all, entry(i, fmt.Sprintf("actor-%d", i%2), fmt.Sprintf("obj-%d", i%3)))
	}
	// Some in one write, some in separate ones; order is append order.
	write(t, s, func(tx core.Tx) error {
		for _, e := range all[:5] {
			if err := tx.Audit(e); err != nil {
				return err
			}
		}
		return nil
	})
	for _, e := range all[5:] {
		write(t, s, func(tx core.Tx) error { return tx.Audit(e) })
	}
	// A rolled-back write leaves no audit entry.
	boom := errors.New("boom")
	err := s.Write(ctx, func(tx core.Tx) error {
		if err := tx.Audit(entry(99, "actor-0", "obj-0")); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Write", err, boom)

	check := func(name string, f core.AuditFilter, want []int) {
		t.Helper()
		got, err := s.Audit(ctx, f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d entries, want %d", name, len(got), len(want))
		}
		for k, i := range want {
			w, g := all[i], got[k]
			if k > 0 && g.Seq <= got[k-1].Seq {
				t.Errorf("%s: seq %d after %d", name, g.Seq, got[k-1].Seq)
			}
			checkTime(t, name+" At", w.At, g.At)
			if len(w.Detail) == 0 {
				if len(g.Detail) != 0 {
					t.Errorf("%s[%d].Detail = %s, want none", name, k, g.Detail)
				}
			} else if !jsonEqual(w.Detail, g.Detail) {
				t.Errorf("%s[%d].Detail = %s, want %s", name, k, g.Detail, w.Detail)
			}
			w.At, g.At, w.Detail, g.Detail, g.Seq = time.Time{}, time.Time{}, nil, nil, 0
			if !reflect.DeepEqual(w, g) {
				t.Errorf("%s[%d] = %+v, want %+v", name, k, g, w)
			}
		}
	}
	check("All", core.AuditFilter{}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	check("Limit", core.AuditFilter{Limit: 3}, []int{0, 1, 2})
	check("Object", core.AuditFilter{ObjectID: "obj-1"}, []int{1, 4, 7})
	check("Actor", core.AuditFilter{ActorID: "actor-1"}, []int{1, 3, 5, 7, 9})
	check("ObjectAndActor", core.AuditFilter{ObjectID: "obj-1", ActorID: "actor-1"}, []int{1, 7})
	check("ActorLimit", core.AuditFilter{ActorID: "actor-0", Limit: 2}, []int{0, 2})
	check("Nothing", core.AuditFilter{ObjectID: "obj-9"}, nil)
}

// testRegistrationNumbers: a reserved number belongs to one event until it
// releases it; reserving again for the same event is fine; releasing a
// number another event holds leaves it alone; a rolled-back reservation
// leaves nothing.
func testRegistrationNumbers(t *testing.T, fresh func(*testing.T) core.Store) {
	s := fresh(t)
	ctx := context.Background()
	write(t, s, func(tx core.Tx) error {
		if err := tx.ReserveRegistrationNumber("N-1", "ev-a"); err != nil {
			return err
		}
		return tx.ReserveRegistrationNumber("N-1", "ev-a") // again: the same event
	})
	write(t, s, func(tx core.Tx) error {
		wantErr(t, "Reserve (taken)", tx.ReserveRegistrationNumber("N-1", "ev-b"), core.ErrRegistrationNumberTaken)
		if err := tx.ReleaseRegistrationNumber("N-1", "ev-b"); err != nil { // not ev-b's: left alone
			return err
		}
		wantErr(t, "Reserve (still taken)", tx.ReserveRegistrationNumber("N-1", "ev-b"), core.ErrRegistrationNumberTaken)
		return nil
	})
	write(t, s, func(tx core.Tx) error { return tx.ReleaseRegistrationNumber("N-1", "ev-a") })
	write(t, s, func(tx core.Tx) error { return tx.ReserveRegistrationNumber("N-1", "ev-b") })
	// a reservation in a write that fails is rolled back with it
	err := s.Write(ctx, func(tx core.Tx) error {
		if err := tx.ReserveRegistrationNumber("N-2", "ev-a"); err != nil {
			return err
		}
		return errors.New("the request fails")
	})
	if err == nil {
		t.Fatal("failing write succeeded")
	}
	write(t, s, func(tx core.Tx) error { return tx.ReserveRegistrationNumber("N-2", "ev-c") })
}
