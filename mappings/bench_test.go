package mappings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// largeBirthBundle grows the BFDR test bundle to about 250 KB and 60
// entries with Observations carrying narrative text, as real EHR exports do.
func largeBirthBundle(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bundles", "hl7-bfdr-birth.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		tb.Fatal(err)
	}
	entries := b["entry"].([]any)
	para := strings.Repeat("Prenatal care record: visit notes, measurements and counselling given. ", 60)
	for i := len(entries); i < 60; i++ {
		entries = append(entries, map[string]any{
			"fullUrl": fmt.Sprintf("urn:uuid:7b000000-0000-4000-8000-%012d", i),
			"resource": map[string]any{
				"resourceType": "Observation", "id": fmt.Sprintf("7b000000-0000-4000-8000-%012d", i), "status": "final",
				"text":          map[string]any{"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">" + para + "</div>"},
				"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": fmt.Sprintf("%d-%d", 10000+i, i%10)}}},
				"subject":       map[string]any{"reference": "urn:uuid:2c000000-0000-4000-8000-000000000003"},
				"valueQuantity": map[string]any{"value": i, "unit": "1", "system": "http://unitsofmeasure.org", "code": "1"},
			},
		})
	}
	b["entry"] = entries
	out, err := json.Marshal(b)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func smallBirthBundle(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bundles", "hl7-bfdr-birth.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestBenchBundlesMap(t *testing.T) {
	m := newMapper(t)
	for name, b := range map[string][]byte{"small": smallBirthBundle(t), "large": largeBirthBundle(t)} {
		res, err := m.Map(b, testNow)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Family != "hl7-bfdr-birth" {
			t.Fatalf("%s: family %s", name, res.Family)
		}
		t.Logf("%s bundle: %d bytes", name, len(b))
	}
}

// BenchmarkMap measures parse+map next to a bare encoding/json unmarshal
// of the same bytes into map[string]any, and reports the ratio (target for
// the large bundle: within 3x).
func BenchmarkMap(b *testing.B) {
	m := newMapper(b)
	for _, c := range []struct {
		name string
		body []byte
	}{{"small", smallBirthBundle(b)}, {"large", largeBirthBundle(b)}} {
		b.Run(c.name+"/map", func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := m.Map(c.body, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/unmarshal", func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var v map[string]any
				if err := json.Unmarshal(c.body, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/ratio", func(b *testing.B) {
			var tMap, tJSON time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				var v map[string]any
				if err := json.Unmarshal(c.body, &v); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := m.Map(c.body, testNow); err != nil {
					b.Fatal(err)
				}
				tJSON += t1.Sub(t0)
				tMap += time.Since(t1)
			}
			b.ReportMetric(float64(tMap)/float64(tJSON), "x-unmarshal")
		})
	}
}
