package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crvshub/crvshub/testharness/hubtest"
)

// fhirBenchClients is the number of concurrent clients (issue 3 sets its
// target, 500 bundles per second, at 32).
const fhirBenchClients = 32

// BenchmarkFHIRPost posts new birth notifications through the real server
// from 32 concurrent clients: the native create+notify body (the baseline,
// same engine path), the OpenCRVS v1 birth bundle of the README (about
// 7 KB) and the same bundle grown to about 250 KB and 60 entries (extra
// Observations with narrative, as hospital systems send) to POST /fhir. Each reports req/s; their ratio is what mapping
// FHIR costs on top of the engine.
func BenchmarkFHIRPost(b *testing.B) {
	bundle, err := os.ReadFile(v1BirthFile)
	if err != nil {
		b.Fatal(err)
	}
	const compID = "0f6c1b7e-2f0a-4a8e-9d57-6b1c3e0a1b01" // the bundle's Composition id, made unique per request
	if !bytes.Contains(bundle, []byte(compID)) {
		b.Fatal("the example bundle no longer has the Composition id the benchmark replaces")
	}
	large := largeBundle(b, bundle)
	run := rand.Uint32()
	var seq atomic.Int64
	cases := []struct {
		name, path string
		body       func() []byte
		want       int
	}{
		{"native-notify", "/api/events/events/notify", func() []byte {
			js, _ := json.Marshal(map[string]any{"transactionId": fmt.Sprintf("bench-%x-%d", run, seq.Add(1)), "eventType": "birth",
				"createdAtLocation": hubtest.OfficeIbombo, "declaration": hubtest.BirthDeclaration("Tendai", "Phiri")})
			return js
		}, http.StatusOK},
		{"fhir-v1-birth-7KB", pathFHIR, func() []byte {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", run, seq.Add(1))
			return bytes.ReplaceAll(bundle, []byte(compID), []byte(id))
		}, http.StatusCreated},
		{fmt.Sprintf("fhir-v1-birth-%dKB", len(large)>>10), pathFHIR, func() []byte {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", run, seq.Add(1))
			return bytes.ReplaceAll(large, []byte(compID), []byte(id))
		}, http.StatusCreated},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h := hubtest.Start(b, hubtest.Options{TokenTTL: 24 * time.Hour}) // tokens outlive the run
			tok := h.ClientToken(hubtest.OfficeIbombo, hubtest.AllScopes...)
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * fhirBenchClients}}
			procs := runtime.GOMAXPROCS(0) // RunParallel runs GOMAXPROCS x parallelism goroutines
			b.SetParallelism((fhirBenchClients + procs - 1) / procs)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, err := http.NewRequest("POST", h.URL+c.path, bytes.NewReader(c.body()))
					if err != nil {
						b.Error(err)
						return
					}
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != c.want {
						b.Errorf("status %d, want %d", res.StatusCode, c.want)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// largeBundle adds Observations (vital signs with a narrative, each about
// 4 KB) to a bundle until it has about 60 entries.
func largeBundle(b *testing.B, small []byte) []byte {
	var m map[string]any
	if err := json.Unmarshal(small, &m); err != nil {
		b.Fatal(err)
	}
	entries := m["entry"].([]any)
	text := strings.Repeat("Routine observation recorded by the ward nurse during the postnatal round. ", 56)
	for i := 0; len(entries) < 60; i++ {
		id := fmt.Sprintf("9c0a0000-0000-4000-8000-%012d", i)
		entries = append(entries, map[string]any{"fullUrl": "urn:uuid:" + id, "resource": map[string]any{
			"resourceType": "Observation", "id": id, "status": "final",
			"text":          map[string]any{"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">" + text + "</div>"},
			"category":      []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}},
			"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}}},
			"valueQuantity": map[string]any{"value": 120 + i%30, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
		}})
	}
	m["entry"] = entries
	out, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
