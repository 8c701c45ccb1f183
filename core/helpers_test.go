package core_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
	goldenfile "github.com/crvshub/crvshub/testharness/golden"
)

// update rewrites the golden files under testdata instead of comparing.
var update = flag.Bool("update", false, "rewrite the golden files under core/testdata")

// testNow is the fixed "now" of every test.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// farajaland returns the embedded default country config (loaded once).
func farajaland(t testing.TB) *core.CountryConfig { t.Helper(); return fl.Config(t) }

func birthForm(t testing.TB) *core.EventConfig {
	t.Helper()
	ec := farajaland(t).Event("birth")
	if ec == nil {
		t.Fatal("no birth event in the default config")
	}
	return ec
}

// decl builds a Declaration from a JSON object literal.
func decl(t testing.TB, js string) core.Declaration { t.Helper(); return fl.Decl(t, js) }

// coreErr asserts err is a *core.Error and returns it.
func coreErr(t testing.TB, err error) *core.Error { t.Helper(); return fl.CoreErr(t, err) }

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, *update, "go test ./core/ -update")
}

// history builds an event's action rows the way the engine writes them:
// non-confirmable actions as one Accepted row, confirmable ones as a
// Requested row followed by an Accepted (or Rejected) row pointing back.
type history struct {
	ev *core.EventDocument
	n  int
}

var histStart = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

func newHistory(eventType string) *history {
	return &history{ev: &core.EventDocument{ID: "e0000000-0000-4000-8000-000000000000", Type: eventType,
		TrackingID: "B7TEST2", CreatedAt: histStart, UpdatedAt: histStart}}
}

func (h *history) next() (string, time.Time) {
	h.n++
	return fmt.Sprintf("a0000000-0000-4000-8000-%012d", h.n), histStart.Add(time.Duration(h.n) * time.Minute)
}

func (h *history) row(t core.ActionType, s core.ActionStatus, d core.Declaration, orig string) *core.Action {
	id, at := h.next()
	if d == nil {
		d = core.Declaration{}
	}
	a := core.Action{ID: id, Type: t, Status: s, TransactionID: "tx-" + strings.ToLower(string(t)) + "-" + id[len(id)-4:],
		CreatedBy: "user-1", CreatedByUserType: core.UserTypeUser, CreatedByRole: "REGISTRATION_AGENT", CreatedAt: at,
		CreatedAtLocation: fl.IbomboOffice, Declaration: d, OriginalActionID: orig}
	if orig != "" {
		a.TransactionID = h.ev.FindAction(orig).TransactionID
	}
	h.ev.Actions = append(h.ev.Actions, a)
	h.ev.UpdatedAt = at
	return &h.ev.Actions[len(h.ev.Actions)-1]
}

// do appends one action as the engine would when the confirmer accepts.
func (h *history) do(t core.ActionType) *history { return h.doDecl(t, nil) }

func (h *history) doDecl(t core.ActionType, d core.Declaration) *history {
	if !t.Confirmable() {
		a := h.row(t, core.StatusAccepted, d, "")
		if t == core.ActionAssign {
			a.AssignedTo = "user-1"
		}
		return h
	}
	req := h.row(t, core.StatusRequested, d, "")
	acc := h.row(t, core.StatusAccepted, nil, req.ID)
	if t == core.ActionRegister {
		acc.RegistrationNumber = "REG000000001"
	}
	return h
}

// request appends a Requested row with no follower and returns its id.
func (h *history) request(t core.ActionType, d core.Declaration) string {
	return h.row(t, core.StatusRequested, d, "").ID
}

// resolve appends the Accepted or Rejected row for a Requested row.
func (h *history) resolve(reqID string, s core.ActionStatus, d core.Declaration) *core.Action {
	req := h.ev.FindAction(reqID)
	return h.row(req.Type, s, d, reqID)
}

func (h *history) state() core.State { return core.Derive(h.ev) }

func (h *history) types() string {
	var parts []string
	for _, a := range h.ev.Actions {
		if a.OriginalActionID != "" {
			continue
		}
		p := string(a.Type)
		if a.Status == core.StatusRequested && !h.resolved(a.ID) {
			p += "(requested)"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func (h *history) resolved(id string) bool {
	for _, a := range h.ev.Actions {
		if a.OriginalActionID == id {
			return true
		}
	}
	return false
}

// deferring is a confirmer that defers actions of type t and accepts the
// rest (a partner deciding t later).
func deferring(t core.ActionType) core.Confirmer {
	return core.ConfirmerFunc(func(_ context.Context, _ *core.EventDocument, a *core.Action) (core.Confirmation, error) {
		if a.Type == t {
			return core.Confirmation{Decision: core.Defer}, nil
		}
		return core.Confirmation{Decision: core.Accept}, nil
	})
}

// clause wraps one SearchQuery clause in an "and" query body.
func clause(c string) string { return `{"query":{"type":"and","clauses":[` + c + `]}}` }
