package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// deepFuzzyTree is a query five and/or levels deep with 32 fuzzy name
// leaves, as the SearchQuery parser compiles them (each leaf: a token
// prefix OR a Soundex class), 64 conditions: the most a query may hold.
// With mixed, each leaf's Soundex class is a flag condition instead, so
// that no subtree is made of field conditions alone.
func deepFuzzyTree(top string, terms []string, mixed bool) core.Filter {
	leaf := 0
	var tree func(depth int, op string) core.Filter
	tree = func(depth int, op string) core.Filter {
		if depth == 5 {
			tok := terms[leaf%len(terms)]
			leaf++
			if mixed {
				return core.Filter{Op: "or", Children: []core.Filter{tokenF(core.OpPrefix, tok), leafF(core.ColFlag, core.OpIn, "incomplete")}}
			}
			return core.Filter{Op: "or", Children: []core.Filter{tokenF(core.OpPrefix, tok), tokenF(core.OpIn, "~"+core.Soundex(tok))}}
		}
		next := "or"
		if op == "or" {
			next = "and"
		}
		return core.Filter{Op: op, Children: []core.Filter{tree(depth+1, next), tree(depth+1, next)}}
	}
	return tree(0, top)
}

// TestSearchDeepFuzzyTree: such a query is answered (it was a 500 "no
// query solution" from the planner), the same by every plan, alone and
// under a scope's access filter.
func TestSearchDeepFuzzyTree(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	loadEvents(t, s, 0, 300)
	access := core.Filter{Op: "or", Children: []core.Filter{{Op: "and", Children: []core.Filter{leafF(core.ColType, core.OpIn, "birth")}}}}
	defer func(d func(total, rows, end int64) bool) { denseEnough = d }(denseEnough)
	for _, mode := range []string{"Natural", "Walk", "Lookup"} {
		natural := denseEnough
		switch mode {
		case "Walk":
			denseEnough = func(total, rows, end int64) bool { return true }
		case "Lookup":
			denseEnough = func(total, rows, end int64) bool { return false }
		}
		for _, top := range []string{"and", "or"} {
			for _, v := range []struct{ scoped, mixed bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
				scoped := v.scoped
				t.Run(fmt.Sprintf("%s/%s/scoped=%v/mixed=%v", mode, top, scoped, v.mixed), func(t *testing.T) {
					w := deepFuzzyTree(top, []string{"a", "smi", "kofi", "mensah", "o", "anna", "ow", "b"}, v.mixed)
					if scoped {
						w = core.Filter{Op: "and", Children: []core.Filter{w, access}}
					}
					for _, lim := range []int{1, 10, 0} {
						f := core.SearchFilter{Where: w, Limit: lim}
						_, wantTotal := referenceSearch(t, s, f)
						p, err := s.Search(context.Background(), f)
						if err != nil {
							t.Fatalf("limit %d: %v", lim, err)
						}
						if p.Total != wantTotal {
							t.Errorf("limit %d: total %d, want %d", lim, p.Total, wantTotal)
						}
					}
				})
			}
		}
		denseEnough = natural
	}
}
