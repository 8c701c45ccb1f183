package mappings

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSeedsMap checks that every fuzz seed bundle is a usable notification
// of the family its name says, so the fuzzer starts from deep paths.
func TestSeedsMap(t *testing.T) {
	m := newMapper(t)
	want := map[string]string{
		"opencrvs-birth-min.json": "opencrvs-v1-birth", "opencrvs-death-min.json": "opencrvs-v1-death",
		"bfdr-min.json": "hl7-bfdr-birth", "vrdr-message-min.json": "hl7-vrdr-death", "his-min.json": "his-transaction-birth",
	}
	for f, fam := range want {
		b, err := os.ReadFile(filepath.Join("testdata", "seeds", f))
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Map(b, testNow)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if res.Family != fam || len(res.Declaration) < 2 {
			t.Errorf("%s: family %s, declaration %s", f, res.Family, res.Declaration)
		}
	}
}
