package core_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// The flag conditions the allowed-actions table is tested under. "pending"
// is a requested action that is neither accepted nor rejected yet.
const (
	condRejected   = "rejected"
	condDuplicate  = "potential-duplicate"
	condCorrection = "correction-requested"
	condPrinted    = "printed"
	condPending    = "pending"
)

var tableConds = []string{condRejected, condDuplicate, condCorrection, condPrinted, condPending}

// condAction is the action that sets each flag condition.
var condAction = map[string]core.ActionType{
	condRejected:   core.ActionReject,
	condDuplicate:  core.ActionDuplicateDetected,
	condCorrection: core.ActionRequestCorrection,
	condPrinted:    core.ActionPrintCertificate,
}

// basePaths are the action sequences that lead to each status, tried in
// order when looking for a history the state machine itself allows.
var basePaths = map[core.EventStatus][][]core.ActionType{
	core.EventCreated:    {{core.ActionCreate}},
	core.EventNotified:   {{core.ActionCreate, core.ActionNotify}},
	core.EventDeclared:   {{core.ActionCreate, core.ActionDeclare}, {core.ActionCreate, core.ActionNotify, core.ActionDeclare}},
	core.EventValidated:  {{core.ActionCreate, core.ActionDeclare, core.ActionValidate}, {core.ActionCreate, core.ActionNotify, core.ActionValidate}},
	core.EventRegistered: {{core.ActionCreate, core.ActionDeclare, core.ActionRegister}, {core.ActionCreate, core.ActionDeclare, core.ActionValidate, core.ActionRegister}},
	core.EventArchived:   {{core.ActionCreate, core.ActionNotify, core.ActionArchive}, {core.ActionCreate, core.ActionDeclare, core.ActionArchive}},
}

type tableCase struct {
	status    core.EventStatus
	conds     []string // subset of tableConds, in tableConds order
	hist      *history
	reachable bool // every action of hist was allowed when it was taken
}

func (c tableCase) has(cond string) bool { return slices.Contains(c.conds, cond) }

func (c tableCase) label() string {
	if len(c.conds) == 0 {
		return "-"
	}
	return strings.Join(c.conds, "+")
}

// matches reports whether a derived state is the case's status with
// exactly the case's flag conditions.
func (c tableCase) matches(st core.State) bool {
	if st.Deleted || st.Status != c.status || (st.Pending != nil) != c.has(condPending) {
		return false
	}
	for _, f := range []string{condRejected, condDuplicate, condCorrection, condPrinted} {
		if st.HasFlag(f) != c.has(f) {
			return false
		}
	}
	return true
}

// replay builds a history from action types, each as the engine writes it,
// the last one left requested when pending is set. ok is false when some
// action was not allowed in the state it was taken in.
func replay(seq []core.ActionType, pending core.ActionType) (h *history, ok bool) {
	h = newHistory("birth")
	ok = true
	for i, a := range seq {
		if i > 0 && core.CheckAllowed(h.state(), a) != nil {
			ok = false
		}
		h.do(a)
	}
	if pending != "" {
		if core.CheckAllowed(h.state(), pending) != nil {
			ok = false
		}
		h.request(pending, nil)
	}
	return h, ok
}

// findHistory looks for an order of the base path and the flag actions that
// the state machine allows and that derives exactly the case's state.
func findHistory(c tableCase) (*history, bool) {
	var flagActs []core.ActionType
	for _, cond := range c.conds {
		if a, ok := condAction[cond]; ok {
			flagActs = append(flagActs, a)
		}
	}
	var found *history
	var dfs func(base []core.ActionType, bi int, used []bool, seq []core.ActionType) bool
	dfs = func(base []core.ActionType, bi int, used []bool, seq []core.ActionType) bool {
		var st core.State
		if len(seq) > 0 {
			h, _ := replay(seq, "")
			st = h.state()
		}
		try := func(a core.ActionType) bool { return len(seq) == 0 || core.CheckAllowed(st, a) == nil }
		if bi == len(base) && !slices.Contains(used, false) {
			var pending core.ActionType
			if c.has(condPending) {
				for _, a := range core.AllActionTypes {
					if a.Confirmable() && try(a) {
						pending = a
						break
					}
				}
				if pending == "" {
					return false
				}
			}
			h, ok := replay(seq, pending)
			if ok && c.matches(h.state()) {
				found = h
				return true
			}
			return false
		}
		if bi < len(base) && try(base[bi]) && dfs(base, bi+1, used, append(slices.Clone(seq), base[bi])) {
			return true
		}
		for i, a := range flagActs {
			if used[i] || !try(a) {
				continue
			}
			u := slices.Clone(used)
			u[i] = true
			if dfs(base, bi, u, append(slices.Clone(seq), a)) {
				return true
			}
		}
		return false
	}
	for _, base := range basePaths[c.status] {
		if dfs(base, 0, make([]bool, len(flagActs)), nil) {
			return found, true
		}
	}
	// Not reachable through allowed actions: write the rows anyway (the
	// derivation does not police the history) in a fixed order.
	seq := append(slices.Clone(basePaths[c.status][0]), flagActs...)
	var pending core.ActionType
	if c.has(condPending) {
		pending = core.ActionEdit
	}
	h, _ := replay(seq, pending)
	return h, false
}

func tableCases(t *testing.T) []tableCase {
	var out []tableCase
	for _, status := range core.AllEventStatuses {
		for mask := 0; mask < 1<<len(tableConds); mask++ {
			c := tableCase{status: status}
			for i, cond := range tableConds {
				if mask&(1<<i) != 0 {
					c.conds = append(c.conds, cond)
				}
			}
			c.hist, c.reachable = findHistory(c)
			if st := c.hist.state(); !c.matches(st) {
				t.Fatalf("history %s derives %s %v, not %s %s", c.hist.types(), st.Status, st.Flags, status, c.label())
			}
			out = append(out, c)
		}
	}
	return out
}

// TestAllowedActionsTable checks every (status, flag combination, action)
// against testdata/allowed-actions.golden, and that every refusal is a 409
// naming the action and the state.
func TestAllowedActionsTable(t *testing.T) {
	cases := tableCases(t)
	var b strings.Builder
	b.WriteString("# Allowed actions per derived state (core.AllowedActions / core.CheckAllowed).\n")
	b.WriteString("# Each state is derived from a real action history; \"reachable\" means every action of\n")
	b.WriteString("# that history was itself allowed when taken, \"forced\" that no such history exists.\n")
	b.WriteString("# Regenerate: go test ./core/ -run TestAllowedActionsTable -update\n")
	b.WriteString("# status | conditions | reachable | history | allowed\n")
	for _, c := range cases {
		st := c.hist.state()
		var allowed []string
		for _, a := range core.AllActionTypes {
			err := core.CheckAllowed(st, a)
			if err == nil {
				allowed = append(allowed, string(a))
				continue
			}
			e := coreErr(t, err)
			if e.Kind != core.KindConflict || e.Code != "ACTION_NOT_ALLOWED" {
				t.Errorf("%s %s: %s refused with kind %v code %s, want a 409 ACTION_NOT_ALLOWED", c.status, c.label(), a, e.Kind, e.Code)
			}
			if !strings.Contains(e.Message, "'"+string(a)+"'") || !strings.Contains(e.Message, string(st.Status)) {
				t.Errorf("%s %s: message %q must name the action and the status", c.status, c.label(), e.Message)
			}
			for _, f := range st.Flags {
				if !strings.Contains(e.Message, f) {
					t.Errorf("%s %s: message %q must name flag %s", c.status, c.label(), e.Message, f)
				}
			}
		}
		var listed []string
		for _, a := range core.AllowedActions(st) {
			listed = append(listed, string(a))
		}
		if !slices.Equal(listed, allowed) {
			t.Errorf("%s %s: AllowedActions = %v but CheckAllowed allows %v", c.status, c.label(), listed, allowed)
		}
		reach := "forced"
		if c.reachable {
			reach = "reachable"
		}
		fmt.Fprintf(&b, "%s | %s | %s | %s | %s\n", c.status, c.label(), reach, c.hist.types(), strings.Join(allowed, " "))
	}
	golden(t, "allowed-actions.golden", []byte(b.String()))
}

// TestAllowedActionsRules asserts the rules of the spec over every table
// state, independently of the golden file.
func TestAllowedActionsRules(t *testing.T) {
	for _, c := range tableCases(t) {
		st := c.hist.state()
		allowed := func(a core.ActionType) bool { return core.CheckAllowed(st, a) == nil }
		where := fmt.Sprintf("%s %s (%s)", c.status, c.label(), c.hist.types())
		for _, a := range []core.ActionType{core.ActionRead, core.ActionAssign, core.ActionUnassign} {
			if !allowed(a) {
				t.Errorf("%s: %s must always be allowed", where, a)
			}
		}
		if allowed(core.ActionCreate) {
			t.Errorf("%s: CREATE is never an action on an existing event", where)
		}
		// Nothing but READ/ASSIGN/UNASSIGN while an action is requested.
		if c.has(condPending) {
			if got := core.AllowedActions(st); !slices.Equal(got, []core.ActionType{core.ActionAssign, core.ActionUnassign, core.ActionRead}) {
				t.Errorf("%s: with a pending request only ASSIGN, UNASSIGN, READ are allowed, got %v", where, got)
			}
			continue
		}
		// NOTIFY only once (on CREATED) unless rejected (before declaration).
		wantNotify := (c.status == core.EventCreated && !c.has(condRejected)) ||
			(c.has(condRejected) && (c.status == core.EventCreated || c.status == core.EventNotified))
		if allowed(core.ActionNotify) != wantNotify {
			t.Errorf("%s: NOTIFY allowed = %v, want %v", where, allowed(core.ActionNotify), wantNotify)
		}
		// REGISTER never on CREATED, never while rejected or a potential duplicate.
		if allowed(core.ActionRegister) && (c.status == core.EventCreated || c.has(condRejected) || c.has(condDuplicate)) {
			t.Errorf("%s: REGISTER must not be allowed", where)
		}
		if allowed(core.ActionValidate) && (c.has(condRejected) || c.has(condDuplicate)) {
			t.Errorf("%s: VALIDATE must not be allowed", where)
		}
		// Corrections: approve/reject only with a correction requested,
		// request/print only on a registered event without one.
		for _, a := range []core.ActionType{core.ActionApproveCorrection, core.ActionRejectCorrection} {
			want := c.has(condCorrection) && c.status == core.EventRegistered
			if allowed(a) != want {
				t.Errorf("%s: %s allowed = %v, want %v", where, a, allowed(a), want)
			}
		}
		for _, a := range []core.ActionType{core.ActionRequestCorrection, core.ActionPrintCertificate} {
			want := c.status == core.EventRegistered && !c.has(condCorrection) && !c.has(condRejected)
			if allowed(a) != want {
				t.Errorf("%s: %s allowed = %v, want %v", where, a, allowed(a), want)
			}
		}
		// Duplicates: review only when flagged, and only before registration
		// or archiving (an archived record allows nothing but READ/ASSIGN/UNASSIGN).
		for _, a := range []core.ActionType{core.ActionMarkAsDuplicate, core.ActionMarkAsNotDuplicate} {
			want := c.has(condDuplicate) && (c.status == core.EventNotified || c.status == core.EventDeclared || c.status == core.EventValidated)
			if allowed(a) != want {
				t.Errorf("%s: %s allowed = %v, want %v", where, a, allowed(a), want)
			}
		}
		if c.status == core.EventArchived {
			if got := core.AllowedActions(st); !slices.Equal(got, []core.ActionType{core.ActionAssign, core.ActionUnassign, core.ActionRead}) {
				t.Errorf("%s: an archived event allows only ASSIGN, UNASSIGN, READ, got %v", where, got)
			}
		}
		// DELETE only a fresh CREATED event.
		if want := c.status == core.EventCreated && !c.has(condRejected); allowed(core.ActionDelete) != want {
			t.Errorf("%s: DELETE allowed = %v, want %v", where, allowed(core.ActionDelete), want)
		}
		// Rejected: only re-submission or archive (nothing on registered/archived).
		if c.has(condRejected) {
			for _, a := range core.AllowedActions(st) {
				switch a {
				case core.ActionRead, core.ActionAssign, core.ActionUnassign, core.ActionNotify, core.ActionDeclare, core.ActionEdit, core.ActionArchive,
					core.ActionMarkAsDuplicate, core.ActionMarkAsNotDuplicate, core.ActionApproveCorrection, core.ActionRejectCorrection:
				default:
					t.Errorf("%s: %s must not be allowed on a rejected event", where, a)
				}
			}
		}
		// Printed changes nothing by itself.
		if c.has(condPrinted) {
			other := tableCase{status: c.status, conds: slices.DeleteFunc(slices.Clone(c.conds), func(s string) bool { return s == condPrinted })}
			oh, _ := findHistory(other)
			if a, b := core.AllowedActions(st), core.AllowedActions(oh.state()); !slices.Equal(a, b) {
				t.Errorf("%s: printed flag changed the allowed actions: %v vs %v", where, a, b)
			}
		}
	}
}

// TestAllowedActionsKeyFacts spells out the facts integrators rely on,
// on histories built step by step.
func TestAllowedActionsKeyFacts(t *testing.T) {
	mustAllow := func(h *history, a core.ActionType) {
		t.Helper()
		if err := core.CheckAllowed(h.state(), a); err != nil {
			t.Errorf("after %s: %s refused: %v", h.types(), a, err)
		}
	}
	mustRefuse := func(h *history, a core.ActionType, state string) {
		t.Helper()
		err := core.CheckAllowed(h.state(), a)
		if err == nil {
			t.Errorf("after %s: %s allowed", h.types(), a)
			return
		}
		want := fmt.Sprintf("Action '%s' cannot be performed on an event in '%s' state", a, state)
		if e := coreErr(t, err); e.Kind != core.KindConflict || e.Message != want {
			t.Errorf("after %s: %s refused with %v %q, want 409 %q", h.types(), a, e.Kind, e.Message, want)
		}
	}
	// NOTIFY only once unless rejected.
	h := newHistory("birth").do(core.ActionCreate)
	mustAllow(h, core.ActionNotify)
	h.do(core.ActionNotify)
	mustRefuse(h, core.ActionNotify, "NOTIFIED (flags: incomplete)")
	h.do(core.ActionReject)
	mustAllow(h, core.ActionNotify)
	h.do(core.ActionNotify)
	mustRefuse(h, core.ActionNotify, "NOTIFIED (flags: incomplete)")

	// REGISTER not allowed on CREATED.
	h = newHistory("birth").do(core.ActionCreate)
	mustRefuse(h, core.ActionRegister, "CREATED")
	h.do(core.ActionDeclare)
	mustAllow(h, core.ActionRegister)

	// Nothing but READ/ASSIGN/UNASSIGN while an action is requested.
	h = newHistory("birth").do(core.ActionCreate).do(core.ActionDeclare)
	req := h.request(core.ActionRegister, nil)
	for _, a := range core.AllActionTypes {
		switch a {
		case core.ActionRead, core.ActionAssign, core.ActionUnassign:
			mustAllow(h, a)
		default:
			mustRefuse(h, a, "DECLARED (flags: register:requested)")
		}
	}
	h.resolve(req, core.StatusRejected, nil)
	mustAllow(h, core.ActionRegister)

	// APPROVE_CORRECTION only with correction-requested.
	h = newHistory("birth").do(core.ActionCreate).do(core.ActionDeclare).do(core.ActionRegister)
	mustRefuse(h, core.ActionApproveCorrection, "REGISTERED")
	mustRefuse(h, core.ActionRejectCorrection, "REGISTERED")
	h.do(core.ActionRequestCorrection)
	mustAllow(h, core.ActionApproveCorrection)
	mustAllow(h, core.ActionRejectCorrection)
	mustRefuse(h, core.ActionRequestCorrection, "REGISTERED (flags: correction-requested)")
	h.do(core.ActionApproveCorrection)
	mustRefuse(h, core.ActionApproveCorrection, "REGISTERED")
	mustAllow(h, core.ActionRequestCorrection)

	// ARCHIVED is final.
	h = newHistory("birth").do(core.ActionCreate).do(core.ActionDeclare).do(core.ActionArchive)
	for _, a := range []core.ActionType{core.ActionDeclare, core.ActionRegister, core.ActionNotify, core.ActionReject, core.ActionArchive, core.ActionDelete} {
		mustRefuse(h, a, "ARCHIVED")
	}
}
