package core_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

func TestParseScope(t *testing.T) {
	cases := []struct {
		in   string
		want []string // canonical String() of each parsed scope
	}{
		// v2 query-string form
		{"type=record.notify", []string{"type=record.notify"}},
		{"type=record.notify&event=birth,death", []string{"type=record.notify&event=birth,death"}},
		{"type=record.search&event=birth,death&placeOfEvent=all", []string{"type=record.search&event=birth,death&placeOfEvent=all"}},
		{"type=record.search&registeredIn=location&declaredIn=administrativeArea", []string{"type=record.search&declaredIn=administrativeArea&registeredIn=location"}},
		{"type=record.custom-action&customActionTypes=VALIDATE_DECLARATION", []string{"type=record.custom-action&customActionTypes=VALIDATE_DECLARATION"}},
		{"type=record.print-certified-copies&templates=birth-certificate,birth-certified-copy", []string{"type=record.print-certified-copies&templates=birth-certificate,birth-certified-copy"}},
		{"type=record.notify&event=birth%2Cdeath", []string{"type=record.notify&event=birth,death"}},
		{"  type=record.read  ", []string{"type=record.read"}},
		{"event=birth&type=record.notify", []string{"type=record.notify&event=birth"}},
		// plain names
		{"record.read", []string{"type=record.read"}},
		{"record.reindex", []string{"type=record.reindex"}},
		{"bypassratelimit", []string{"type=bypassratelimit"}},
		{"user.data-seeding", []string{"type=user.data-seeding"}},
		// v1.9 bracket form
		{"record.notify[event=birth|death]", []string{"type=record.notify&event=birth,death"}},
		{"record.register[event=birth]", []string{"type=record.register&event=birth"}},
		// v1.9 access is v2 placeOfEvent (OpenCRVS legacyScopeToV2Scope)
		{"search[event=birth,access=all]", []string{"type=record.search&event=birth&placeOfEvent=all"}},
		{"search[event=birth|death,access=my-jurisdiction]", []string{"type=record.search&event=birth,death&placeOfEvent=administrativeArea"}},
		{"type=record.read&declaredBy=user&registeredBy=user", []string{"type=record.read&declaredBy=user&registeredBy=user"}},
		{"record.search[event=death,placeOfEvent=location]", []string{"type=record.search&event=death&placeOfEvent=location"}},
		{"recordsearch[event=birth]", []string{"type=record.search&event=birth"}},
		// legacy v1.9 names
		{"notification-api", []string{"type=record.create", "type=record.notify"}},
		{"recordsearch", []string{"type=record.search"}},
		{"search", []string{"type=record.search"}},
		{"record.declared.reject", []string{"type=record.reject"}},
		{"record.declared.archive", []string{"type=record.archive"}},
		{"record.registered.correct", []string{"type=record.correct"}},
		{"record.declare-birth", []string{"type=record.declare&event=birth"}},
		{"record.declare-death", []string{"type=record.declare&event=death"}},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := core.ParseScope(c.in)
			if err != nil {
				t.Fatalf("ParseScope(%q): %v", c.in, err)
			}
			if s := core.Scopes(got).Strings(); !slices.Equal(s, c.want) {
				t.Fatalf("ParseScope(%q) = %q, want %q", c.in, s, c.want)
			}
			for _, sc := range got {
				again, err := core.ParseScope(sc.String())
				if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], sc) {
					t.Errorf("round trip of %q: %+v, %v; want %+v", sc.String(), again, err, sc)
				}
			}
		})
	}
}

func TestParseScopeOptions(t *testing.T) {
	got, err := core.ParseScope("record.notify[event=birth|death]")
	if err != nil {
		t.Fatal(err)
	}
	want := core.Scope{Type: core.ScopeRecordNotify, Options: map[string][]string{core.OptEvent: {"birth", "death"}}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	q, err := core.ParseScope("type=record.notify&event=birth,death")
	if err != nil || !reflect.DeepEqual(q, got) {
		t.Fatalf("v2 form %+v, %v; want the same scope as the v1.9 form %+v", q, err, got)
	}
	plain, err := core.ParseScope("record.read")
	if err != nil || len(plain) != 1 || plain[0].Type != core.ScopeRecordRead || len(plain[0].Options) != 0 {
		t.Fatalf("plain: %+v, %v", plain, err)
	}
}

func TestParseScopeErrors(t *testing.T) {
	cases := []struct{ in, msg string }{
		{"", "empty"},
		{"   ", "empty"},
		{strings.Repeat("a", 1025), "too long"},
		{"type=", "bad type"},
		{"type=Record.Notify", "bad type"},
		{"type=record..notify", "bad type"},
		{"type=record.notify&type=record.read", "type given twice"},
		{"event=birth", "no type"},
		{"type=record.notify&event", "not key=value"},
		{"type=record.notify&", "not key=value"},
		{"type=record.notify&event=", "bad value"},
		{"type=record.notify&event=birth,,death", "bad value"},
		{"type=record.notify&event=birth death", "bad value"},
		{"type=record.notify&event=birth&event=death", "given twice"},
		{"type=record.notify&1event=birth", "bad option name"},
		{"type=record.notify&ev-ent=birth", "bad option name"},
		{"type=record.search&placeOfEvent=everywhere", "not one of all, administrativeArea, location"},
		{"type=record.search&declaredIn=all,mine", "not one of all, administrativeArea, location"},
		{"type=record.search&registeredIn=user", "not one of all, administrativeArea, location"},
		{"record notify", "bad type"},
		{"record.notify;drop", "bad type"},
		{"RECORD.READ", "bad type"},
		{"record.notify[event=birth", "missing ]"},
		{"record.notify[event=birth]x", "missing ]"},
		{"record.notify[]", "not key=value"},
		{"record.notify[event]", "not key=value"},
		{"record.notify[event=birth,event=death]", "given twice"},
		{"record.notify[event=birth]]", "bad value"},
		{"record.notify[event=bi rth]", "bad value"},
		{"record.search[placeOfEvent=mine]", "not one of all, administrativeArea, location"},
		{"[event=birth]", "bad type"},
		// "type" is the scope's own key in the v2 form, never an option
		{"record.notify[type=birth]", "option"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := core.ParseScope(c.in)
			if err == nil {
				t.Fatalf("ParseScope(%q) = %+v, want an error", c.in, got)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("ParseScope(%q) error %q, want it to mention %q", c.in, err, c.msg)
			}
		})
	}
}

func mustScopes(t *testing.T, ss ...string) core.Scopes {
	t.Helper()
	sc, err := core.ParseScopes(ss)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestScopesAllowsAndEventTypes(t *testing.T) {
	s := mustScopes(t,
		"type=record.notify&event=birth",
		"record.notify[event=death]",
		"type=record.read",
		"type=record.search&event=birth,death",
		"type=record.search&event=tennis-club-membership",
		"type=record.register&event=all",
		"notification-api",
	)
	allow := []struct {
		typ, event string
		want       bool
	}{
		{core.ScopeRecordNotify, "birth", true},
		{core.ScopeRecordNotify, "death", true},
		{core.ScopeRecordNotify, "marriage", true}, // notification-api has no event option
		{core.ScopeRecordNotify, "", true},
		{core.ScopeRecordRead, "death", true},
		{core.ScopeRecordRegister, "anything", true}, // event=all
		{core.ScopeRecordSearch, "birth", true},
		{core.ScopeRecordSearch, "marriage", false},
		{core.ScopeRecordSearch, "", true},
		{core.ScopeRecordDeclare, "birth", false},
		{core.ScopeRecordDeclare, "", false},
		{core.ScopeRecordCreate, "death", true},
	}
	for _, a := range allow {
		if got := s.Allows(a.typ, a.event); got != a.want {
			t.Errorf("Allows(%s, %q) = %v, want %v", a.typ, a.event, got, a.want)
		}
	}
	if !s.Has(core.ScopeRecordRead) || s.Has(core.ScopeRecordDeclare) {
		t.Error("Has")
	}
	if n := len(s.Of(core.ScopeRecordNotify)); n != 3 {
		t.Errorf("Of(record.notify) has %d scopes, want 3", n)
	}

	types, all := s.EventTypes(core.ScopeRecordSearch)
	if all || !slices.Equal(types, []string{"birth", "death", "tennis-club-membership"}) {
		t.Errorf("EventTypes(search) = %v, %v", types, all)
	}
	if types, all := s.EventTypes(core.ScopeRecordNotify); !all || types != nil {
		t.Errorf("EventTypes(notify) = %v, %v; want all (notification-api has no event option)", types, all)
	}
	if _, all := s.EventTypes(core.ScopeRecordRegister); !all {
		t.Error("event=all must admit all event types")
	}
	if types, all := s.EventTypes(core.ScopeRecordDeclare); all || len(types) != 0 {
		t.Errorf("EventTypes of a scope not held = %v, %v", types, all)
	}
	dup := mustScopes(t, "type=record.search&event=death,birth", "type=record.search&event=birth")
	if types, _ := dup.EventTypes(core.ScopeRecordSearch); !slices.Equal(types, []string{"birth", "death"}) {
		t.Errorf("EventTypes must be sorted and unique: %v", types)
	}
}

func TestScopeAllowsEvent(t *testing.T) {
	sc := core.Scope{Type: core.ScopeRecordNotify, Options: map[string][]string{core.OptEvent: {"birth"}}}
	if !sc.AllowsEvent("birth") || sc.AllowsEvent("death") || sc.AllowsEvent("") {
		t.Error("event option must admit exactly its event types")
	}
	if !(core.Scope{Type: core.ScopeRecordNotify}).AllowsEvent("death") {
		t.Error("no event option admits every type")
	}
}

func TestParseScopesStopsAtTheFirstBadOne(t *testing.T) {
	if _, err := core.ParseScopes([]string{"record.read", "bad scope", "record.notify"}); err == nil || !strings.Contains(err.Error(), "bad scope") {
		t.Fatalf("err = %v", err)
	}
	s, err := core.ParseScopes(nil)
	if err != nil || len(s) != 0 {
		t.Fatalf("no scopes: %v %v", s, err)
	}
	if got := mustScopes(t, "notification-api", "record.read").Strings(); !slices.Equal(got, []string{"type=record.create", "type=record.notify", "type=record.read"}) {
		t.Fatalf("Strings = %q", got)
	}
}
