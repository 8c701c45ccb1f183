package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
	goldenfile "github.com/crvshub/crvshub/testharness/golden"
)

// update rewrites the golden files under testdata instead of comparing.
var update = flag.Bool("update", false, "rewrite the golden files under core/testdata")

// Farajaland locations of the embedded default config.
const (
	locCentral       = "5b607555-e83d-49f5-a681-d9a4776f70c5" // province
	locSulaka        = "2bed186c-4ade-4708-8410-82cbd39ba408" // province
	locPualula       = "ff943d85-0c03-4988-add5-b93d78915ac8" // province
	locIbombo        = "d71605e6-b20e-4b2e-a6ff-4cd2641fb0cb" // district of Central
	locIsamba        = "f8fca9cc-ac9b-422a-9aad-cdd5fd9b5151" // district of Central
	locIlanga        = "4c0d2619-69b7-4489-93a0-915340c590c9" // district of Sulaka
	locEmbe          = "24c59a68-90fa-422b-b720-261d0bb7f704" // district of Pualula
	locHQOffice      = "b3d48539-18da-47e4-b5cd-6e7f94766eb9" // CRVS office in Embe
	locIbomboOffice  = "58325d6c-dc50-4779-aa42-06daa5712756" // CRVS office in Ibombo
	locIlangaOffice  = "8afa81b5-d668-4373-8658-a51abb3a49e8" // CRVS office in Ilanga
	locIbomboHosp    = "a60080a9-9ddb-4d93-bfac-9f40239b3219" // health facility in Ibombo
	locChikobo       = "cfa64051-dd26-49e6-8295-e4e202ce495b" // health facility in Ibombo
	locChilochabalen = "93a724c3-c35f-452d-86a3-1d136cb2e693" // health facility in Ibombo
	locIlangaHosp    = "c2a44b74-dc4d-4b37-9df2-8d513652caa1" // health facility in Ilanga
)

// testNow is the fixed "now" of every test.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

var (
	ccOnce sync.Once
	ccVal  *core.CountryConfig
	ccErr  error
)

// farajaland returns the embedded default country config (loaded once).
func farajaland(t testing.TB) *core.CountryConfig {
	t.Helper()
	ccOnce.Do(func() { ccVal, ccErr = countryconfig.Load("") })
	if ccErr != nil {
		t.Fatalf("load default country config: %v", ccErr)
	}
	return ccVal
}

func birthForm(t testing.TB) *core.EventConfig {
	t.Helper()
	ec := farajaland(t).Event("birth")
	if ec == nil {
		t.Fatal("no birth event in the default config")
	}
	return ec
}

// decl builds a Declaration from a JSON object literal.
func decl(t testing.TB, js string) core.Declaration {
	t.Helper()
	var d core.Declaration
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatalf("bad declaration literal %s: %v", js, err)
	}
	return d
}

// coreErr asserts err is a *core.Error and returns it.
func coreErr(t testing.TB, err error) *core.Error {
	t.Helper()
	var e *core.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *core.Error", err, err)
	}
	return e
}

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
		CreatedAtLocation: locIbomboOffice, Declaration: d, OriginalActionID: orig}
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
