package durability_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// searchEventsEnv, when set, is how many events the search benchmarks'
// data folder holds instead of 100,000: `make bench-smoke` runs every
// benchmark once on a small folder (CRVSHUB_BENCH_EVENTS=2000).
const searchEventsEnv = "CRVSHUB_BENCH_EVENTS"

// searchEvents and trackingSample are set by searchData (searchEventsEnv).
var (
	searchEvents   = 100_000
	trackingSample = 2_000 // tracking ids kept for the benchmark
)

const (
	// benchDataVersion changes whenever the loader below changes what it
	// stores, so that an old cached folder is rebuilt.
	benchDataVersion = "3"
	benchDataMeta    = "crvshub-bench.json"
)

// benchData describes a loaded data folder.
type benchData struct {
	Version      string   `json:"version"`
	Schema       string   `json:"schema"` // hash of the migrations and index code it was built with
	Events       int      `json:"events"`
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	Tracking     []string `json:"tracking"` // Tracking[k] is event k*Events/len(Tracking)'s
	LoadSeconds  float64  `json:"loadSeconds"`
}

var benchDataCache struct {
	once sync.Once
	dir  string
	meta *benchData
	err  error
}

// schemaHash fingerprints the code that decides what a loaded folder holds
// (migrations, index projection); a cached folder built with other code
// is rebuilt.
func schemaHash() string {
	root, err := moduleRoot()
	if err != nil {
		return "unknown"
	}
	h := sha256.New()
	files, _ := filepath.Glob(filepath.Join(root, "core", "store", "sqlite", "migrations", "*.sql"))
	files = append(files, filepath.Join(root, "core", "index.go"), filepath.Join(root, "core", "normalize.go"))
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// searchData returns the 100,000-event data folder (or searchEventsEnv's
// size), loading it on first use and caching it in
// $TMPDIR/crvshub-bench-100k (crvshub-bench-<n>) between runs.
func searchData(b *testing.B) (string, *benchData) {
	b.Helper()
	c := &benchDataCache
	c.once.Do(func() {
		name := "crvshub-bench-100k"
		if v := os.Getenv(searchEventsEnv); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 100 || n > 10_000_000 {
				c.err = fmt.Errorf("%s=%q: want a number of events from 100 to 10000000", searchEventsEnv, v)
				return
			}
			step := (n + 1_999) / 2_000 // every step-th event's tracking id is kept
			searchEvents, trackingSample = n, (n+step-1)/step
			name = fmt.Sprintf("crvshub-bench-%d", n)
		}
		dir := filepath.Join(os.TempDir(), name)
		schema := schemaHash()
		if m, err := readBenchData(dir); err == nil && m.Version == benchDataVersion && m.Schema == schema && m.Events == searchEvents {
			c.dir, c.meta = dir, m
			return
		}
		c.dir, c.meta, c.err = buildBenchData(b, dir, schema)
	})
	if c.err != nil {
		b.Fatalf("search data: %v", c.err)
	}
	return c.dir, c.meta
}

func readBenchData(dir string) (*benchData, error) {
	raw, err := os.ReadFile(filepath.Join(dir, benchDataMeta))
	if err != nil {
		return nil, err
	}
	var m benchData
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if len(m.Tracking) == 0 || m.ClientID == "" {
		return nil, errors.New("incomplete")
	}
	return &m, nil
}

// buildBenchData creates searchEvents births in a new folder, renamed
// into place once complete. Event 0 is made by the engine
// (CreateAndNotify as a system client); every other one is a copy of it
// with its own ids, transaction ids, tracking id and declaration, written
// in batches of loadBatch events per Store.Write with the index row the
// engine would build (core.BuildIndex over core.Derive). So the search
// tables hold exactly what 100,000 create+notify requests would leave
// (the audit trail, which search does not read, has only event 0's
// entries), loaded several times faster, with load-time SQLite settings
// (see below).
func buildBenchData(b *testing.B, dir, schema string) (string, *benchData, error) {
	const loadBatch = 250
	tmp, err := os.MkdirTemp(os.TempDir(), "crvshub-bench-100k-loading-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(tmp) // gone once renamed
	start := time.Now()
	ctx := context.Background()
	// Load-time settings only (the folder is used once complete, through
	// a hub opened with the store's own settings): a big page cache, no
	// fsync, rare checkpoints.
	restore := withTune(sqliteTune{CacheKiB: 256 << 10, WriterAutoCheckpoint: 20_000, Synchronous: "OFF"})
	defer restore()
	h := hubtest.Start(b, hubtest.Options{DataDir: tmp})
	defer h.Stop()
	m := &benchData{Version: benchDataVersion, Schema: schema, Events: searchEvents, Tracking: make([]string, trackingSample)}
	m.ClientID, m.ClientSecret = h.NewClient("search benchmark", hubtest.OfficeIbombo, notifyScopes...)
	p, err := h.App.Auth.Authenticate(ctx, "Bearer "+h.Token(m.ClientID, m.ClientSecret))
	if err != nil {
		return "", nil, err
	}
	fmt.Fprintf(os.Stderr, "loading %d events into %s (once; cached in %s)\n", searchEvents, tmp, dir)
	first, _, err := h.App.Service.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: "load-0", EventType: "birth",
		CreatedAtLocation: hubtest.OfficeIbombo, Declaration: rawDeclaration(0)})
	if err != nil {
		return "", nil, err
	}
	tmpl, err := h.App.Store.Event(ctx, first.ID)
	if err != nil {
		return "", nil, err
	}
	step := (searchEvents + trackingSample - 1) / trackingSample
	m.Tracking[0] = tmpl.TrackingID

	// Producers copy the template; writers store batches (several at once,
	// so that group commit shares commits between them).
	batches := make(chan []*core.EventDocument, 8)
	go func() {
		defer close(batches)
		for lo := 1; lo < searchEvents; lo += loadBatch {
			batch := make([]*core.EventDocument, 0, loadBatch)
			now := time.Now().UTC()
			for i := lo; i < min(lo+loadBatch, searchEvents); i++ {
				batch = append(batch, copyEvent(tmpl, i, now))
			}
			batches <- batch
		}
	}()
	var failed atomic.Pointer[error]
	var done atomic.Int64
	var wg sync.WaitGroup
	cc := h.App.Config
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range batches {
				if failed.Load() != nil {
					continue // drain
				}
				err := h.App.Store.Write(ctx, func(tx core.Tx) error {
					for _, ev := range batch {
						var err error
						for range 10 {
							ev.TrackingID = core.NewTrackingID()
							if err = tx.InsertEvent(ev); !errors.Is(err, core.ErrTrackingIDTaken) {
								break
							}
						}
						if err != nil {
							return fmt.Errorf("insert %s: %w", ev.Actions[0].TransactionID, err)
						}
						row, err := core.BuildIndex(cc, ev, core.Derive(ev))
						if err != nil {
							return err
						}
						if err := tx.PutIndex(row); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					continue
				}
				for _, ev := range batch {
					i, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(ev.Actions[0].TransactionID, "load-"), ":create"))
					if i%step == 0 && i/step < len(m.Tracking) {
						m.Tracking[i/step] = ev.TrackingID
					}
				}
				if n := done.Add(int64(len(batch))); n/10_000 != (n-int64(len(batch)))/10_000 {
					fmt.Fprintf(os.Stderr, "  %d events, %.0f s\n", n, time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	if e := failed.Load(); e != nil {
		return "", nil, *e
	}
	h.Stop()
	restore()
	m.LoadSeconds = time.Since(start).Seconds()
	raw, err := json.Marshal(m)
	if err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, benchDataMeta), raw, 0o600); err != nil {
		return "", nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", nil, err
	}
	fmt.Fprintf(os.Stderr, "loaded %d events in %.0f s\n", searchEvents, m.LoadSeconds)
	return dir, m, nil
}

// rawDeclaration is birthDeclaration(i) as the engine takes it.
func rawDeclaration(i int) core.Declaration {
	decl := core.Declaration{}
	for k, v := range birthDeclaration(i) {
		raw, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		decl[k] = raw
	}
	return decl
}

// copyEvent copies the engine-made event "load-0" as event i: new ids
// (originalActionId links kept), transaction ids "load-<i>...", times
// and declaration.
func copyEvent(tmpl *core.EventDocument, i int, now time.Time) *core.EventDocument {
	ev := tmpl.Clone()
	ev.ID = core.NewID()
	ev.CreatedAt, ev.UpdatedAt = now, now
	newIDs := map[string]string{}
	decl := rawDeclaration(i)
	for k := range ev.Actions {
		a := &ev.Actions[k]
		newIDs[a.ID] = core.NewID()
		a.ID = newIDs[a.ID]
		a.CreatedAt = now
		a.TransactionID = "load-" + strconv.Itoa(i) + strings.TrimPrefix(a.TransactionID, "load-0")
		if len(a.Declaration) > 0 {
			a.Declaration = decl
		}
	}
	for k := range ev.Actions {
		if o := ev.Actions[k].OriginalActionID; o != "" {
			ev.Actions[k].OriginalActionID = newIDs[o]
		}
	}
	return ev
}

// searchCase is one kind of search: query(i) gives the i-th request's body
// and check its expected total.
type searchCase struct {
	name  string
	query func(i int) []byte
	check func(i, total int) error
}

// runSearch measures a search case with 1 client (latency) and with 32
// (latency under load), reporting p50/p99 in ms and req/s.
//
// It runs once per caller: a client whose scopes reach every record, and
// one whose scopes name event types (as the README's example clients do),
// whose searches carry core's access filter.
func runSearch(b *testing.B, callers []searchCaller, sc searchCase) {
	for _, sca := range callers {
		for _, clients := range []int{1, benchClients} {
			runSearchClients(b, sca, sc, clients)
		}
	}
}

// searchCaller is a caller and the name of its scopes in benchmark names.
type searchCaller struct {
	name string
	c    *caller
}

func runSearchClients(b *testing.B, sca searchCaller, sc searchCase, clients int) {
	c := sca.c
	b.Run(fmt.Sprintf("%s/%sclients=%d", sc.name, sca.name, clients), func(b *testing.B) {
		ctx := context.Background()
		var seq atomic.Int64
		var mu sync.Mutex
		var all []time.Duration
		worker := func(next func() bool) {
			local := make([]time.Duration, 0, 1024)
			defer func() {
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			}()
			for next() {
				i := int(seq.Add(1))
				body := sc.query(i)
				t0 := time.Now()
				status, ans, err := c.do(ctx, "POST", searchPath, body)
				d := time.Since(t0)
				if err != nil || status != http.StatusOK {
					b.Errorf("search %s: %d %v %.200s", body, status, err, ans)
					return
				}
				local = append(local, d)
				var res struct {
					Total int `json:"total"`
				}
				if err := json.Unmarshal(ans, &res); err != nil {
					b.Errorf("search %s: %v", body, err)
					return
				}
				if err := sc.check(i, res.Total); err != nil {
					b.Errorf("search %s: %v", body, err)
					return
				}
			}
		}
		b.ResetTimer()
		start := time.Now()
		if clients == 1 {
			n := 0
			worker(func() bool { n++; return n <= b.N })
		} else {
			setParallelism(b, clients)
			b.RunParallel(func(pb *testing.PB) { worker(pb.Next) })
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if len(all) == 0 {
			return
		}
		slices.Sort(all)
		pct := func(p float64) float64 {
			k := int(p*float64(len(all))+0.999999) - 1
			k = max(0, min(k, len(all)-1))
			return float64(all[k].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	})
}

// openSearchHub starts a hub on the loaded folder and returns two
// callers with search tokens: the loader's client (unlimited scopes) and
// one whose scopes name the event types.
func openSearchHub(b *testing.B) ([]searchCaller, *benchData) {
	dir, m := searchData(b)
	h := startBenchHub(b, hubtest.Options{DataDir: dir})
	c := newCaller(h.URL, h.Token(m.ClientID, m.ClientSecret))
	b.Cleanup(c.close)
	scoped := newCaller(h.URL, h.ClientToken(hubtest.OfficeIbombo,
		"type=record.search&event=birth,death", "type=record.read&event=birth,death"))
	b.Cleanup(scoped.close)
	callers := []searchCaller{{"", c}, {"scope=event/", scoped}}
	for _, sca := range callers {
		sa, err := sca.c.search(context.Background(), queryCountBirths)
		if err != nil {
			b.Fatal(err)
		}
		if sa.Total != m.Events {
			b.Fatalf("the data folder %s holds %d births, want %d: delete it to rebuild", dir, sa.Total, m.Events)
		}
	}
	return callers, m
}

func wantTotal(want int) func(i, total int) error {
	return func(_, total int) error {
		if total != want {
			return fmt.Errorf("total %d, want %d", total, want)
		}
		return nil
	}
}

// BenchmarkSearchTrackingID: POST /events/search by tracking id over
// 100,000 events (one hit each).
func BenchmarkSearchTrackingID(b *testing.B) {
	c, m := openSearchHub(b)
	runSearch(b, c, searchCase{
		name: "trackingId",
		query: func(i int) []byte {
			return fmt.Appendf(nil, `{"query":{"type":"and","clauses":[{"trackingId":{"type":"exact","term":%q}}]}}`,
				m.Tracking[(i*7919)%len(m.Tracking)])
		},
		check: wantTotal(1),
	})
}

// BenchmarkSearchField: POST /events/search by declaration field over
// 100,000 events: the mother's national id (one hit), the child's date of
// birth (about 274 hits, first page of 10) and a fuzzy surname (about 100
// hits, first page of 10).
func BenchmarkSearchField(b *testing.B) {
	c, m := openSearchHub(b)
	pick := func(i int) int { return (i * 7919) % m.Events }
	runSearch(b, c, searchCase{
		name: "mother.nid",
		query: func(i int) []byte {
			return fmt.Appendf(nil, `{"query":{"type":"and","clauses":[{"data.mother.nid":{"type":"exact","term":%q}}]}}`, motherNID(pick(i)))
		},
		check: wantTotal(1),
	})
	runSearch(b, c, searchCase{
		name: "mother.nid+eventType",
		query: func(i int) []byte {
			return fmt.Appendf(nil, `{"query":{"type":"and","clauses":[{"eventType":"birth"},{"data.mother.nid":{"type":"exact","term":%q}}]}}`, motherNID(pick(i)))
		},
		check: wantTotal(1),
	})
	perDay := func(day int) int { // events k < Events with k % 365 == day
		return (m.Events-1-day)/365 + 1
	}
	runSearch(b, c, searchCase{
		name: "child.dob",
		query: func(i int) []byte {
			return fmt.Appendf(nil, `{"query":{"type":"and","clauses":[{"data.child.dob":{"type":"exact","term":%q}}]},"limit":10}`, childDOB(pick(i)))
		},
		check: func(i, total int) error {
			if want := perDay(pick(i) % 365); total != want {
				return fmt.Errorf("total %d, want %d", total, want)
			}
			return nil
		},
	})
	runSearch(b, c, searchCase{
		name: "child.name-fuzzy",
		query: func(i int) []byte {
			return fmt.Appendf(nil, `{"query":{"type":"and","clauses":[{"data.child.name":{"type":"fuzzy","term":%q}}]},"limit":10}`, surname(pick(i)))
		},
		check: func(i, total int) error {
			// events k with surname(k) == surname(pick(i)); fuzzy
			// matching may add sound-alikes.
			s := (pick(i) / 7) % 1000
			want := m.Events/7000*7 + min(max(m.Events%7000-7*s, 0), 7)
			if total < want {
				return fmt.Errorf("total %d, want at least %d", total, want)
			}
			return nil
		},
	})
}
