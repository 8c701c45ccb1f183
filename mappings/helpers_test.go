package mappings

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is "today" for every test: all test data lies before it.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func farajaland(t testing.TB) *core.CountryConfig {
	t.Helper()
	cc, err := countryconfig.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func newMapper(t testing.TB) *Mapper {
	t.Helper()
	m, err := New(farajaland(t), "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// golden compares got (JSON-encoded, indented) with testdata/<name>, or
// rewrites it with -update.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(b) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", p, b, want)
	}
}
