package routing

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
)

// Routing modes.
const (
	// ModeAsync answers at once with the action Requested (flag
	// "<action>:requested"); the partner's outcome resolves it later.
	ModeAsync = "async"
	// ModeSync waits up to SyncTimeout for the outcome within the request,
	// then falls back to async (deferred).
	ModeSync = "sync"
)

// Config says which confirmable actions go to which National ID partner,
// on what conditions and how (country config routing.yaml). Check it
// against the country's event forms before use.
type Config struct {
	// PendingAfter: a Requested action older than this is listed as pending
	// for an operator. Default 24h.
	PendingAfter core.Duration `json:"pendingAfter,omitempty"`
	Routes       []Route       `json:"routes"`
}

// Route sends one event type's confirmable actions to a partner.
type Route struct {
	Name    string            `json:"name"`
	Event   string            `json:"event"`
	Actions []core.ActionType `json:"actions"`
	Partner string            `json:"partner"`
	Mode    string            `json:"mode"`                  // async (default) or sync
	Timeout core.Duration     `json:"syncTimeout,omitempty"` // sync mode: how long the request waits; default 10s
	When    *Rule             `json:"when,omitempty"`        // eligibility; nil = always
}

// Rule is an eligibility condition over the event's declaration (as it
// will be once the action is accepted). Exactly one form per rule: all,
// any, not, or a field test.
type Rule struct {
	All []Rule `json:"all,omitempty"`
	Any []Rule `json:"any,omitempty"`
	Not *Rule  `json:"not,omitempty"`

	Field string `json:"field,omitempty"`
	// In: the field's string value is one of these. NotIn: it is absent or
	// none of these.
	In    []string `json:"in,omitempty"`
	NotIn []string `json:"notIn,omitempty"`
	// Present: the field has a non-null value.
	Present bool `json:"present,omitempty"`
	// MaxAgeYears: the field is a date and the person born then is at most
	// this many whole years old today (in the country's time zone).
	MaxAgeYears *int `json:"maxAgeYears,omitempty"`
}

// Pending returns PendingAfter or its default (also for a nil Config).
func (r *Config) Pending() time.Duration {
	if r == nil || r.PendingAfter <= 0 {
		return 24 * time.Hour
	}
	return time.Duration(r.PendingAfter)
}

// SyncTimeout returns the route's sync wait or its default.
func (r *Route) SyncTimeout() time.Duration {
	if r.Timeout <= 0 {
		return 10 * time.Second
	}
	return time.Duration(r.Timeout)
}

// Check validates the routing against the event forms (known event types,
// confirmable actions, known field ids, one form per rule) and fills the
// defaults (route name, mode). Its errors name the route and the field.
func (r *Config) Check(c *core.CountryConfig) error {
	names := map[string]bool{}
	for i := range r.Routes {
		rt := &r.Routes[i]
		where := fmt.Sprintf("routes[%d]", i)
		if rt.Name == "" {
			rt.Name = fmt.Sprintf("%s-%s", rt.Event, rt.Partner)
		}
		if names[rt.Name] {
			return fmt.Errorf("%s: name %q is used twice", where, rt.Name)
		}
		names[rt.Name] = true
		ec := c.Event(rt.Event)
		if ec == nil {
			return fmt.Errorf("%s (%s): unknown event type %q", where, rt.Name, rt.Event)
		}
		if rt.Partner == "" || strings.ContainsAny(rt.Partner, ". *>") {
			return fmt.Errorf("%s (%s): partner must be an adapter name like \"mosip\"", where, rt.Name)
		}
		switch rt.Mode {
		case "":
			rt.Mode = ModeAsync
		case ModeAsync, ModeSync:
		default:
			return fmt.Errorf("%s (%s): mode %q: want async or sync", where, rt.Name, rt.Mode)
		}
		if len(rt.Actions) == 0 {
			return fmt.Errorf("%s (%s): actions is empty", where, rt.Name)
		}
		for _, a := range rt.Actions {
			if a != core.ActionRegister && a != core.ActionApproveCorrection {
				return fmt.Errorf("%s (%s): action %s cannot go to a National ID partner (REGISTER or APPROVE_CORRECTION)", where, rt.Name, a)
			}
		}
		if rt.When != nil {
			if err := rt.When.check(ec); err != nil {
				return fmt.Errorf("%s (%s): when: %w", where, rt.Name, err)
			}
		}
	}
	for i, a := range r.Routes {
		for _, b := range r.Routes[i+1:] {
			if a.Event == b.Event && a.Partner == b.Partner {
				for _, t := range a.Actions {
					if slices.Contains(b.Actions, t) {
						return fmt.Errorf("routes %s and %s both send %s %s to %s", a.Name, b.Name, a.Event, t, a.Partner)
					}
				}
			}
		}
	}
	return nil
}

func (r *Rule) check(ec *core.EventConfig) error {
	forms := 0
	if len(r.All) > 0 {
		forms++
	}
	if len(r.Any) > 0 {
		forms++
	}
	if r.Not != nil {
		forms++
	}
	if r.Field != "" {
		forms++
		if ec.Field(r.Field) == nil {
			return fmt.Errorf("unknown field %q in event %s", r.Field, ec.ID)
		}
		tests := 0
		for _, set := range []bool{len(r.In) > 0, len(r.NotIn) > 0, r.Present, r.MaxAgeYears != nil} {
			if set {
				tests++
			}
		}
		if tests != 1 {
			return fmt.Errorf("field %s: give exactly one of in, notIn, present, maxAgeYears", r.Field)
		}
		if r.MaxAgeYears != nil && ec.Field(r.Field).Type != core.FieldDate {
			return fmt.Errorf("field %s: maxAgeYears needs a DATE field", r.Field)
		}
	}
	if forms != 1 {
		return fmt.Errorf("a rule needs exactly one of all, any, not, field")
	}
	for i := range r.All {
		if err := r.All[i].check(ec); err != nil {
			return err
		}
	}
	for i := range r.Any {
		if err := r.Any[i].check(ec); err != nil {
			return err
		}
	}
	if r.Not != nil {
		return r.Not.check(ec)
	}
	return nil
}

// Match evaluates the rule on a declaration; today is "YYYY-MM-DD".
func (r *Rule) Match(d core.Declaration, today string) bool {
	switch {
	case len(r.All) > 0:
		for i := range r.All {
			if !r.All[i].Match(d, today) {
				return false
			}
		}
		return true
	case len(r.Any) > 0:
		for i := range r.Any {
			if r.Any[i].Match(d, today) {
				return true
			}
		}
		return false
	case r.Not != nil:
		return !r.Not.Match(d, today)
	}
	raw, ok := d[r.Field]
	present := ok && len(raw) > 0 && string(raw) != "null"
	var s string
	if present {
		if err := json.Unmarshal(raw, &s); err != nil {
			s = string(raw) // numbers, booleans: compare their JSON text
		}
	}
	switch {
	case r.Present:
		return present
	case len(r.In) > 0:
		return present && slices.Contains(r.In, s)
	case len(r.NotIn) > 0:
		return !present || !slices.Contains(r.NotIn, s)
	case r.MaxAgeYears != nil:
		if !present || len(s) != 10 || len(today) != 10 {
			return false
		}
		return ageYears(s, today) <= *r.MaxAgeYears
	}
	return false
}

// ageYears is the age in whole years on day today of someone born on dob
// (both "YYYY-MM-DD"); negative for a future date of birth.
func ageYears(dob, today string) int {
	b, err1 := time.Parse(time.DateOnly, dob)
	t, err2 := time.Parse(time.DateOnly, today)
	if err1 != nil || err2 != nil {
		return 1 << 30
	}
	age := t.Year() - b.Year()
	if t.Month() < b.Month() || (t.Month() == b.Month() && t.Day() < b.Day()) {
		age--
	}
	return age
}

// RouteFor returns the route for an event type and action whose rule the
// declaration meets, or nil (also for a nil Config).
func (r *Config) RouteFor(eventType string, action core.ActionType, d core.Declaration, today string) *Route {
	if r == nil {
		return nil
	}
	for i := range r.Routes {
		rt := &r.Routes[i]
		if rt.Event != eventType || !slices.Contains(rt.Actions, action) {
			continue
		}
		if rt.When == nil || rt.When.Match(d, today) {
			return rt
		}
	}
	return nil
}
