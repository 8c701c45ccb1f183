package mappings

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// entriesOf builds an "entry" array of n copies of one entry.
func entriesOf(n int, entry string) string {
	return "[" + strings.TrimSuffix(strings.Repeat(entry+",", n), ",") + "]"
}

// TestDecodeEntries: more than MaxBundleEntries entries, counting nested
// bundles, is too large, naming Bundle.entry; other big arrays pass, and
// bodies that are not JSON are not too large.
func TestDecodeEntries(t *testing.T) {
	max := MaxBundleEntries
	tests := []struct {
		name string
		body string
		bad  bool
	}{
		{"at the limit", `{"resourceType":"Bundle","entry":` + entriesOf(max, "1") + `}`, false},
		{"one over", `{"resourceType":"Bundle","entry":` + entriesOf(max+1, "1") + `}`, true},
		{"one over, objects", `{"resourceType":"Bundle","entry":` + entriesOf(max+1, `{"resource":{}}`) + `}`, true},
		{"one over, arrays", `{"resourceType":"Bundle","entry":` + entriesOf(max+1, `[1,2]`) + `}`, true},
		{"nested bundles add up", `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Bundle","entry":` + entriesOf(max/2+1, "1") +
			`}},{"resource":{"resourceType":"Bundle","entry":` + entriesOf(max/2, "1") + `}}]}`, true},
		{"another array is not entries", `{"resourceType":"Bundle","entry":[],"extension":` + entriesOf(2*max, "1") + `}`, false},
		{"entry as a value is not a key", `{"a":"entry","b":` + entriesOf(2*max, "1") + `}`, false},
		{"elements of inner arrays are not entries", `{"entry":[` + entriesOf(2*max, "1") + `]}`, false},
		{"not JSON", `{"entry":[1,2,`, false},
		{"trailing data", `{"entry":[]}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.body))
			var me *Error
			if err != nil && !errors.As(err, &me) {
				t.Fatalf("err %v, want a *mappings.Error", err)
			}
			if !tc.bad {
				if me != nil && me.Kind == core.KindTooLarge {
					t.Fatalf("refused as too large: %v", err)
				}
				return
			}
			if me == nil {
				t.Fatal("taken")
			}
			if me.Kind != core.KindTooLarge || len(me.Issues) != 1 || len(me.Issues[0].Expression) != 1 || me.Issues[0].Expression[0] != "Bundle.entry" {
				t.Fatalf("kind %d issues %+v, want too large naming Bundle.entry", me.Kind, me.Issues)
			}
		})
	}
}

// TestMapRefusesTooManyEntries: Map refuses too many entries.
func TestMapRefusesTooManyEntries(t *testing.T) {
	m := newMapper(t)
	_, err := m.Map([]byte(`{"resourceType":"Bundle","type":"document","entry":`+entriesOf(MaxBundleEntries+1, "1")+`}`), testNow)
	var me *Error
	if !errors.As(err, &me) || me.Kind != core.KindTooLarge || !strings.Contains(me.Error(), "Bundle.entry") {
		t.Fatalf("err %v, want 413 naming Bundle.entry", err)
	}
}

// TestIgnoredEntriesCollapse: junk entries give one issue per kind,
// counting them and naming the first, not one issue each; a kind seen
// once keeps its own message.
func TestIgnoredEntriesCollapse(t *testing.T) {
	m := newMapper(t)
	raw, err := os.ReadFile("testdata/bundles/his-transaction-birth.json")
	if err != nil {
		t.Fatal(err)
	}
	base, err := m.Map(raw, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	entries := b["entry"].([]any)
	first := len(entries)
	add := func(n int, entry string) {
		var e any
		if err := json.Unmarshal([]byte(entry), &e); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			entries = append(entries, e)
		}
	}
	add(500, `1`)
	add(300, `{"fullUrl":"urn:uuid:x"}`)
	add(200, `{"resource":{"id":"r"}}`)
	add(100, `{"fullUrl":"urn:uuid:dup","resource":{"resourceType":"Basic"}}`)
	add(1, `{"resource":{"resourceType":"Flag"}}`)
	b["entry"] = entries
	body, _ := json.Marshal(b)
	res, err := m.Map(body, testNow)
	if err != nil {
		t.Fatalf("a bundle padded with junk entries should still map: %v", err)
	}
	if got, want := len(res.Issues), len(base.Issues)+6; got != want {
		for _, is := range res.Issues {
			t.Logf("%s %s %v %s", is.Severity, is.Code, is.Expression, is.Diagnostics)
		}
		t.Fatalf("%d issues, want %d (one per kind of junk)", got, want)
	}
	at := func(i int) string { return "Bundle.entry[" + itoa(first+i) + "]" }
	want := []string{
		"500 entries ignored, the first at " + at(0) + ": entry is not an object",
		"300 entries ignored, the first at " + at(500) + ".resource: entry has no resource",
		"200 entries ignored, the first at " + at(800) + ".resource.resourceType: resource without resourceType",
		"100 entries ignored, the first at " + at(1000) + ".resource: resource type Basic is not used by the mapping",
		"fullUrl urn:uuid:dup is used by 99 more entries, the first at " + at(1001) + ".fullUrl (also " + at(1000) + ".resource); the first is kept",
		"resource type Flag is not used by the mapping; ignored",
	}
	for _, w := range want {
		found := false
		for _, is := range res.Issues {
			found = found || is.Diagnostics == w
		}
		if !found {
			t.Errorf("no issue %q", w)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
