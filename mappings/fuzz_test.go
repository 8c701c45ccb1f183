package mappings

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// FuzzMap feeds arbitrary bodies to Map: it must never panic and always
// answer a Result or an *Error whose Outcome marshals.
func FuzzMap(f *testing.F) {
	// small seeds keep the fuzzer's input minimisation cheap: one compact
	// bundle per family and shape, and the small broken inputs
	files, _ := filepath.Glob(filepath.Join("testdata", "seeds", "*.json"))
	for _, n := range []string{"empty-bundle", "not-fhir", "not-json", "wrong-resource-type"} {
		files = append(files, filepath.Join("testdata", "broken", n+".json"))
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"Bundle","type":"message","entry":[{"resource":{"resourceType":"MessageHeader","focus":[{"reference":"#x"}]}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Bundle"}}]}}]}`))
	m := newMapper(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := m.Map(body, testNow)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("non-*Error error: %v", err)
			}
			if me.Kind != core.KindInvalid && me.Kind != core.KindUnprocessable && me.Kind != core.KindTooLarge {
				t.Fatalf("kind %d", me.Kind)
			}
			if _, err := json.Marshal(me.Outcome()); err != nil {
				t.Fatal(err)
			}
			return
		}
		if res == nil || res.EventType == "" || res.Family == "" || !strings.HasPrefix(res.TransactionID, "fhir:") {
			t.Fatalf("incomplete result %+v", res)
		}
		if errs := core.ValidateValues(m.cc, m.cc.Event(res.EventType), res.Declaration, testNow); len(errs) > 0 {
			t.Fatalf("a Result whose declaration fails validation: %v", errs)
		}
		for _, is := range res.Issues {
			if is.Severity == "error" || is.Severity == "fatal" {
				t.Fatalf("a Result carrying an error issue: %+v", is)
			}
		}
		if _, err := json.Marshal(NewOutcome(res.Issues...)); err != nil {
			t.Fatal(err)
		}
	})
}
