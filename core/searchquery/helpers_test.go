package searchquery_test

import (
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	fl "github.com/crvshub/crvshub/testharness/farajaland"
	goldenfile "github.com/crvshub/crvshub/testharness/golden"
)

// update rewrites the golden files under testdata instead of comparing.
var update = flag.Bool("update", false, "rewrite the golden files under core/searchquery/testdata")

// testNow is the fixed "now" of every test.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// farajaland returns the embedded default country config (loaded once).
func farajaland(t testing.TB) *core.CountryConfig { t.Helper(); return fl.Config(t) }

// coreErr asserts err is a *core.Error and returns it.
func coreErr(t testing.TB, err error) *core.Error { t.Helper(); return fl.CoreErr(t, err) }

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, *update, "go test ./core/searchquery/ -update")
}
