package core

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Scope is one permission in its OpenCRVS v2 form: a type plus options,
// written "type=record.notify&event=birth,death".
type Scope struct {
	Type    string
	Options map[string][]string
}

// Scope types the engine checks.
const (
	ScopeRecordCreate            = "record.create"
	ScopeRecordNotify            = "record.notify"
	ScopeRecordRead              = "record.read"
	ScopeRecordSearch            = "record.search"
	ScopeRecordDeclare           = "record.declare"
	ScopeRecordValidate          = "record.validate"
	ScopeRecordRegister          = "record.register"
	ScopeRecordReject            = "record.reject"
	ScopeRecordArchive           = "record.archive"
	ScopeRecordEdit              = "record.edit"
	ScopeRecordPrint             = "record.print-certified-copies"
	ScopeRecordRequestCorrection = "record.request-correction"
	ScopeRecordCorrect           = "record.correct"
	ScopeRecordReviewDuplicates  = "record.review-duplicates"
	ScopeRecordUnassignOthers    = "record.unassign-others"
	ScopeRecordDelete            = "record.delete"
	ScopeConfirmRegistration     = "record.confirm-registration"
	ScopeRejectRegistration      = "record.reject-registration"
	// ScopeOpsManage (hub-specific) lets an operator see and replay failed
	// deliveries and resend pending records to their partner.
	ScopeOpsManage = "ops.manage"
	// ScopeFacilitiesInArea (hub-specific) lets a client with an office
	// (a hospital information system) give as createdAtLocation, besides
	// its office, any health facility in the administrative area its
	// office lies in.
	ScopeFacilitiesInArea = "location.facilities-in-area"
)

// Scope option names with a meaning to the engine.
const (
	OptEvent        = "event"
	OptPlaceOfEvent = "placeOfEvent"
	OptDeclaredIn   = "declaredIn"
	OptRegisteredIn = "registeredIn"
)

// Values of the location-limiting options.
const (
	JurisdictionAll                = "all"
	JurisdictionAdministrativeArea = "administrativeArea"
	JurisdictionLocation           = "location"
)

var (
	scopeTypeRe  = regexp.MustCompile(`^[a-z][a-z0-9]*([._-][a-z0-9]+)*$`)
	scopeOptRe   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]*$`)
	scopeValueRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
)

// v1.9 scope names that changed in v2 (OpenCRVS scopes.deprecated).
var legacyScopeNames = map[string][]string{
	"notification-api":          {ScopeRecordCreate, ScopeRecordNotify},
	"recordsearch":              {ScopeRecordSearch},
	"search":                    {ScopeRecordSearch},
	"record.declared.reject":    {ScopeRecordReject},
	"record.declared.archive":   {ScopeRecordArchive},
	"record.registered.correct": {ScopeRecordCorrect},
	"record.declare-birth":      {ScopeRecordDeclare + "[event=birth]"},
	"record.declare-death":      {ScopeRecordDeclare + "[event=death]"},
}

// ParseScope reads one scope in the v2 query-string form
// ("type=record.notify&event=birth,death"), the v1.9 bracket form
// ("record.notify[event=birth|death]") or a plain name ("record.read",
// "notification-api"). A legacy name may expand to several v2 scopes.
func ParseScope(s string) ([]Scope, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty scope")
	}
	if len(s) > 1024 {
		return nil, fmt.Errorf("scope too long")
	}
	// The v2 form is a query string ("type=...&event=..." in any order);
	// a plain or bracket-form name has no '=' before its first '['.
	if i := strings.IndexAny(s, "=["); i >= 0 && s[i] == '=' {
		sc, err := parseQueryScope(s)
		if err != nil {
			return nil, err
		}
		return []Scope{sc}, nil
	}
	if names, ok := legacyScopeNames[s]; ok {
		var out []Scope
		for _, n := range names {
			sc, err := parseBracketScope(n)
			if err != nil {
				return nil, err
			}
			out = append(out, sc)
		}
		return out, nil
	}
	sc, err := parseBracketScope(s)
	if err != nil {
		return nil, err
	}
	if names, ok := legacyScopeNames[sc.Type]; ok && len(names) == 1 && !strings.Contains(names[0], "[") {
		sc.Type = names[0]
	}
	return []Scope{sc}, nil
}

func parseQueryScope(s string) (Scope, error) {
	sc := Scope{Options: map[string][]string{}}
	for _, part := range strings.Split(s, "&") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return Scope{}, fmt.Errorf("scope %q: %q is not key=value", s, part)
		}
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		if k == "type" {
			if sc.Type != "" {
				return Scope{}, fmt.Errorf("scope %q: type given twice", s)
			}
			if !scopeTypeRe.MatchString(v) {
				return Scope{}, fmt.Errorf("scope %q: bad type %q", s, v)
			}
			sc.Type = v
			continue
		}
		if err := sc.addOption(k, strings.Split(v, ",")); err != nil {
			return Scope{}, fmt.Errorf("scope %q: %w", s, err)
		}
	}
	if sc.Type == "" {
		return Scope{}, fmt.Errorf("scope %q: no type", s)
	}
	return sc, nil
}

func parseBracketScope(s string) (Scope, error) {
	sc := Scope{Options: map[string][]string{}}
	name, rest, hasOpts := strings.Cut(s, "[")
	if !scopeTypeRe.MatchString(name) {
		return Scope{}, fmt.Errorf("scope %q: bad type %q", s, name)
	}
	sc.Type = name
	if !hasOpts {
		return sc, nil
	}
	if !strings.HasSuffix(rest, "]") {
		return Scope{}, fmt.Errorf("scope %q: missing ]", s)
	}
	rest = strings.TrimSuffix(rest, "]")
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return Scope{}, fmt.Errorf("scope %q: %q is not key=value", s, part)
		}
		vals := strings.Split(v, "|")
		if k == "access" && (name == "search" || name == "recordsearch" || name == ScopeRecordSearch) {
			// v1.9 search[access=my-jurisdiction|all] is v2 placeOfEvent
			// (OpenCRVS legacyScopeToV2Scope).
			k, vals = OptPlaceOfEvent, []string{JurisdictionAll}
			if v == "my-jurisdiction" {
				vals = []string{JurisdictionAdministrativeArea}
			} else if v != "all" {
				return Scope{}, fmt.Errorf("scope %q: access must be my-jurisdiction or all", s)
			}
		}
		if err := sc.addOption(k, vals); err != nil {
			return Scope{}, fmt.Errorf("scope %q: %w", s, err)
		}
	}
	return sc, nil
}

func (sc *Scope) addOption(k string, vals []string) error {
	if !scopeOptRe.MatchString(k) || k == "type" {
		return fmt.Errorf("bad option name %q", k)
	}
	if _, dup := sc.Options[k]; dup {
		return fmt.Errorf("option %q given twice", k)
	}
	for _, v := range vals {
		if !scopeValueRe.MatchString(v) {
			return fmt.Errorf("option %s: bad value %q", k, v)
		}
		switch k {
		case OptPlaceOfEvent, OptDeclaredIn, OptRegisteredIn:
			if v != JurisdictionAll && v != JurisdictionAdministrativeArea && v != JurisdictionLocation {
				return fmt.Errorf("option %s: value %q is not one of all, administrativeArea, location", k, v)
			}
		case OptDeclaredBy, OptRegisteredBy:
			if v != UserFilterUser {
				return fmt.Errorf("option %s: value %q is not %s", k, v, UserFilterUser)
			}
		}
	}
	sc.Options[k] = vals
	return nil
}

// String writes the scope in the canonical v2 form, options sorted.
func (sc Scope) String() string {
	var b strings.Builder
	b.WriteString("type=")
	b.WriteString(sc.Type)
	keys := make([]string, 0, len(sc.Options))
	for k := range sc.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("&")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(strings.Join(sc.Options[k], ","))
	}
	return b.String()
}

// AllowsEvent reports whether the scope's event option (if any) admits
// the event type.
func (sc Scope) AllowsEvent(eventType string) bool {
	evs, ok := sc.Options[OptEvent]
	if !ok {
		return true
	}
	return slices.Contains(evs, eventType) || slices.Contains(evs, "all")
}

// Scopes is the set of scopes a caller holds.
type Scopes []Scope

// ParseScopes parses every scope string; the first bad one is an error.
func ParseScopes(ss []string) (Scopes, error) {
	var out Scopes
	for _, s := range ss {
		sc, err := ParseScope(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sc...)
	}
	return out, nil
}

// Strings writes every scope in the canonical v2 form.
func (s Scopes) Strings() []string {
	out := make([]string, len(s))
	for i, sc := range s {
		out[i] = sc.String()
	}
	return out
}

// Of returns the scopes of one type.
func (s Scopes) Of(typ string) []Scope {
	var out []Scope
	for _, sc := range s {
		if sc.Type == typ {
			out = append(out, sc)
		}
	}
	return out
}

// Has reports whether any scope of this type is held, whatever its options.
func (s Scopes) Has(typ string) bool { return len(s.Of(typ)) > 0 }

// Allows reports whether a scope of this type is held that admits the
// event type ("" = any event type is enough).
func (s Scopes) Allows(typ, eventType string) bool {
	for _, sc := range s.Of(typ) {
		if eventType == "" || sc.AllowsEvent(eventType) {
			return true
		}
	}
	return false
}

// EventTypes returns the event types a scope type admits: nil with all=true
// when some held scope of that type has no event option.
func (s Scopes) EventTypes(typ string) (types []string, all bool) {
	seen := map[string]bool{}
	for _, sc := range s.Of(typ) {
		evs, ok := sc.Options[OptEvent]
		if !ok || slices.Contains(evs, "all") {
			return nil, true
		}
		for _, e := range evs {
			if !seen[e] {
				seen[e] = true
				types = append(types, e)
			}
		}
	}
	sort.Strings(types)
	return types, false
}
