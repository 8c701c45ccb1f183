package searchquery_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/searchquery"
)

// Run with: go test -run '^$' -fuzz FuzzParseSearch -fuzztime 20s ./core/searchquery/
// The seeds below run as ordinary tests.

func countLeaves(f core.Filter) int {
	if f.Cond != nil {
		return 1
	}
	n := 0
	for _, c := range f.Children {
		n += countLeaves(c)
	}
	return n
}

func FuzzParseSearch(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/search/*.json")
	for _, in := range inputs {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"query":{"type":"and","clauses":[{"data":{}}]}}`,
		`{"query":{"type":"and","clauses":[{"eventType":"birth"}]}}]`,
		`{"query":"{\"type\":\"or\",\"clauses\":[{\"status\":\"REGISTERED\"}]}","sort":"[{\"field\":\"createdAt\"}]"}`,
		`{"query":{"type":"and","clauses":[{"data.child.name":{"type":"fuzzy","term":"a b c d e f g h"}}]}}`,
		`{"query":{"type":"and","clauses":[{"createdAt":{"type":"range","gte":null,"lte":"2024-01-01"}}]},"limit":1000,"offset":100000}`,
		`{"query":{"type":"and","clauses":[{"data.child.weightAtBirth":{"type":"anyOf","terms":[1,"2",null]}}]}}`,
		`{"query":{"type":"and","clauses":[{"flags":{"anyOf":[],"noneOf":null}}]}}`,
		`null`,
		`{"query":{}}`,
	} {
		f.Add([]byte(s))
	}
	cc := farajaland(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		sf, err := searchquery.Parse(body, cc, testNow)
		if err != nil {
			var e *core.Error
			if !errors.As(err, &e) || e.Kind != core.KindInvalid || e.Message == "" {
				t.Fatalf("Parse(%q): error %v (%T) is not a KindInvalid *core.Error", body, err, err)
			}
			return
		}
		checkFilterShape(t, sf.Where, "where")
		if n := countLeaves(sf.Where); n < 1 || n > 64 {
			t.Fatalf("Parse(%q): %d conditions", body, n)
		}
		if sf.Limit < 1 || sf.Limit > core.MaxSearchLimit || sf.Offset < 0 || sf.Offset > core.MaxSearchOffset || len(sf.Sort) > 5 {
			t.Fatalf("Parse(%q): limit %d offset %d sort %v", body, sf.Limit, sf.Offset, sf.Sort)
		}
	})
}
