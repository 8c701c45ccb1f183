package sqlite

import (
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/store/storetest"
)

// TestSearchOracle compares Search with the in-memory reference
// (storetest.Eval) on random data and filters, once with the planner's own
// choice between walking the sort index and looking up the field matches
// (denseEnough), and once forced each way, so that every plan is checked.
func TestSearchOracle(t *testing.T) {
	open := func(t *testing.T) core.Store { return openTemp(t, Options{}) }
	opts := storetest.OracleOptions{Queries: 300}
	if raceEnabled {
		// make test runs -race: one fixed seed and the random one, with
		// fewer rows and searches, keep it to seconds; go test without
		// -race runs them all.
		opts = storetest.OracleOptions{Rows: 150, Queries: 40, Seeds: storetest.OracleSeeds[:1]}
	}
	defer func(d func(total, rows, end int64) bool) { denseEnough = d }(denseEnough)
	natural := denseEnough
	walked := 0
	planned := func(total, rows, end int64) bool {
		ok := natural(total, rows, end)
		if ok {
			walked++
		}
		return ok
	}
	for _, mode := range []struct {
		name  string
		dense func(total, rows, end int64) bool
	}{
		{"Planned", planned},
		{"Walk", func(total, _, _ int64) bool { return total > 0 }},
		{"Lookup", func(int64, int64, int64) bool { return false }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			denseEnough = mode.dense
			storetest.RunOracle(t, open, opts)
		})
	}
	t.Logf("%d planned searches walked the sort index", walked)
	if walked == 0 {
		t.Error("no planned search walked the sort index: the data no longer reaches the dense plan")
	}
}
