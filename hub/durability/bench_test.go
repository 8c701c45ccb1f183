package durability_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	_ "modernc.org/sqlite"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/store/sqlite"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// benchClients is how many concurrent clients the write benchmarks run.
const benchClients = 32

// benchTokenTTL is the lifetime of the tokens benchmark hubs issue: longer
// than any run (the default 600 s expired in the middle of a long one, and
// the benchmark then measured 401s).
const benchTokenTTL = 24 * time.Hour

// startBenchHub is hubtest.Start with tokens that outlive the benchmark.
func startBenchHub(b *testing.B, o hubtest.Options) *hubtest.Hub {
	b.Helper()
	o.TokenTTL = benchTokenTTL
	return hubtest.Start(b, o)
}

// setParallelism makes b.RunParallel run about n goroutines in all
// (RunParallel starts parallelism * GOMAXPROCS).
func setParallelism(b *testing.B, n int) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((n + procs - 1) / procs)
}

// bodies builds create+notify bodies with distinct transaction ids cheaply
// (the client runs on the same cores as the server: it must not spend
// them on json.Marshal).
type bodies struct {
	pre, post []byte
	run       string
	seq       atomic.Int64
}

var benchRun atomic.Int64

func newBodies() *bodies {
	const mark = "TXID-MARK"
	b := notifyBody(mark, 7)
	i := bytes.Index(b, []byte(mark))
	run := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(benchRun.Add(1), 10)
	return &bodies{pre: b[:i], post: b[i+len(mark):], run: run}
}

func (bs *bodies) next() []byte {
	n := bs.seq.Add(1)
	out := make([]byte, 0, len(bs.pre)+len(bs.post)+32)
	out = append(out, bs.pre...)
	out = append(out, "bench-"+bs.run+"-"+strconv.FormatInt(n, 10)...)
	return append(out, bs.post...)
}

// postLoop runs b.N POSTs of body() to url from about benchClients
// goroutines and reports req/s. Any answer but 200 fails the benchmark.
func postLoop(b *testing.B, c *caller, path string, body func() []byte) {
	setParallelism(b, benchClients)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			status, ans, err := c.do(ctx, "POST", path, body())
			if err != nil || status != http.StatusOK {
				b.Errorf("POST %s: %d %v %.200s", path, status, err, ans)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

// BenchmarkCreateNotifyHTTP: create+notify through the real HTTP server
// (auth, body checks, engine, SQLite store with group commit, fsync per
// commit) on loopback, from 32 concurrent clients.
func BenchmarkCreateNotifyHTTP(b *testing.B) { benchCreateNotifyHTTP(b, false) }

// BenchmarkCreateNotifyHTTPWhatIf is BenchmarkCreateNotifyHTTP with store
// settings the hub does not have, applied through a driver connection
// hook (see sqliteTune): each case's ratio to BenchmarkCreateNotifyHTTP
// is what that change to core/store/sqlite would buy. "bg-checkpoint"
// turns the write connection's autocheckpoint off and checkpoints
// (PASSIVE) every 50 ms from another connection.
func BenchmarkCreateNotifyHTTPWhatIf(b *testing.B) {
	cases := []struct {
		name string
		tune sqliteTune
		bg   bool
	}{
		{"cache=64MiB", sqliteTune{CacheKiB: 64 << 10, WriterAutoCheckpoint: -1}, false},
		{"bg-checkpoint", sqliteTune{WriterAutoCheckpoint: 0}, true},
		{"cache=64MiB+bg-checkpoint", sqliteTune{CacheKiB: 64 << 10, WriterAutoCheckpoint: 0}, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.Cleanup(withTune(c.tune))
			benchCreateNotifyHTTP(b, c.bg)
		})
	}
}

func benchCreateNotifyHTTP(b *testing.B, bgCheckpoint bool) {
	h := startBenchHub(b, hubtest.Options{})
	if bgCheckpoint {
		startCheckpointer(b, h.DataDir, 50*time.Millisecond)
	}
	c := newCaller(h.URL, h.ClientToken(hubtest.OfficeIbombo, notifyScopes...))
	defer c.close()
	bs := newBodies()
	before := h.App.Store.Stats()
	postLoop(b, c, notifyPath, bs.next)
	after := h.App.Store.Stats()
	if commits := after.Commits - before.Commits; commits > 0 {
		b.ReportMetric(float64(after.Writes-before.Writes)/float64(commits), "writes/commit")
	}
}

// BenchmarkCreateNotifyGroupCommit answers "is create+notify at least as
// fast as the bare one-row-per-transaction insert?" on equal work: the
// same create+notify requests as BenchmarkCreateNotifyHTTP (real HTTP,
// auth, engine, ~100 b-tree entries each, 32 clients) against three
// hubs that differ only in their store's commit discipline, each sent
// b.N requests in the same run:
//
//   - group-commit: the hub's defaults (synchronous=FULL, MaxBatch 256):
//     the writer batches concurrent requests into one transaction, one
//     fsync.
//   - one-per-tx: MaxBatch 1, each request its own transaction and fsync:
//     BenchmarkBareSQLiteInsert's discipline applied to this work.
//   - no-fsync: synchronous=NORMAL (WAL: no fsync on commit): what
//     durability costs.
//
// BenchmarkBareSQLiteInsert does less work per transaction, so its rate
// is no yardstick for create+notify; one-per-tx is. Reported: each
// variant's req/s, x-one-per-tx = group-commit/one-per-tx (group commit
// must win: > 1) and x-no-fsync = group-commit/no-fsync (about 1 when
// group commit hides the fsync), and the group-commit hub's
// writes/commit. ns/op is group-commit's; allocations are not reported
// (they would add up the three hubs).
//
// The variants take turns in rounds (b.N/9 requests each, the order
// rotating so that each is first, second and last equally often) rather
// than one after the other: on a shared machine, load from elsewhere then
// falls on all three alike instead of skewing the ratios.
func BenchmarkCreateNotifyGroupCommit(b *testing.B) {
	variants := []struct {
		name  string
		store sqlite.Options
	}{
		{"group-commit", sqlite.Options{}},
		{"one-per-tx", sqlite.Options{MaxBatch: 1}},
		{"no-fsync", sqlite.Options{Synchronous: "NORMAL"}},
	}
	type run struct {
		h       *hubtest.Hub
		c       *caller
		bs      *bodies
		before  sqlite.Stats
		elapsed time.Duration
	}
	b.StopTimer()
	runs := make([]*run, len(variants))
	for i, v := range variants {
		// A hub of its own per variant, each from an empty file.
		h := startBenchHub(b, hubtest.Options{Store: v.store})
		r := &run{h: h, c: newCaller(h.URL, h.ClientToken(hubtest.OfficeIbombo, notifyScopes...)), bs: newBodies()}
		defer r.c.close()
		r.before = h.App.Store.Stats()
		runs[i] = r
	}
	// Setup (three hubs, their clients) is not timed; the requests are.
	// The timer must run again here: stopped, Go saw ~0 s per run and grew
	// b.N a hundredfold a round, to millions of requests.
	b.ResetTimer()
	b.StartTimer()
	const rounds = 9 // a multiple of len(variants): see the rotation below
	for round := range rounds {
		// This round's share of b.N (the first b.N%rounds rounds get one more).
		n := b.N / rounds
		if round < b.N%rounds {
			n++
		}
		if n == 0 {
			continue
		}
		for k := range runs {
			r := runs[(round+k)%len(runs)]
			start := time.Now()
			postN(b, r.c, notifyPath, r.bs.next, n)
			r.elapsed += time.Since(start)
		}
		if b.Failed() {
			return
		}
	}
	rate := make([]float64, len(runs))
	for i, r := range runs {
		rate[i] = float64(b.N) / r.elapsed.Seconds()
		b.ReportMetric(rate[i], variants[i].name+"-req/s")
	}
	b.ReportMetric(float64(runs[0].elapsed.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(rate[0]/rate[1], "x-one-per-tx")
	b.ReportMetric(rate[0]/rate[2], "x-no-fsync")
	// MaxBatch 1 must have reached the store (hubtest.Options.Store ->
	// app.Options.Store -> sqlite.Open), or one-per-tx measured batches.
	o, oAfter := runs[1], runs[1].h.App.Store.Stats()
	if c, w := oAfter.Commits-o.before.Commits, oAfter.Writes-o.before.Writes; c != w {
		b.Errorf("one-per-tx: %d commits for %d writes, want one each", c, w)
	}
	g := runs[0]
	if after := g.h.App.Store.Stats(); after.Commits > g.before.Commits {
		b.ReportMetric(float64(after.Writes-g.before.Writes)/float64(after.Commits-g.before.Commits), "writes/commit")
	}
}

// postN sends n POSTs of body() to path from benchClients goroutines and
// returns when all are answered. Any answer but 200 fails the benchmark.
// (b.RunParallel always runs b.N iterations; the rounds of
// BenchmarkCreateNotifyGroupCommit need a share of it.)
func postN(b *testing.B, c *caller, path string, body func() []byte, n int) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				status, ans, err := c.do(ctx, "POST", path, body())
				if err != nil || status != http.StatusOK {
					b.Errorf("POST %s: %d %v %.200s", path, status, err, ans)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkCreateNotifyEngine: the same create+notify straight into the
// engine (no HTTP, no auth, no JSON), from 32 goroutines: what the HTTP
// layer costs is the difference with BenchmarkCreateNotifyHTTP.
func BenchmarkCreateNotifyEngine(b *testing.B) {
	h := startBenchHub(b, hubtest.Options{})
	p := systemPrincipal(b, h)
	bs := newBodies()
	decl := hubtest.BirthDeclaration(firstName(7), surname(7))
	declJSON := core.Declaration{}
	for k, v := range decl {
		declJSON[k] = mustRaw(b, v)
	}
	setParallelism(b, benchClients)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tx := "engine-" + bs.run + "-" + strconv.FormatInt(bs.seq.Add(1), 10)
			_, _, err := h.App.Service.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: tx, EventType: "birth",
				CreatedAtLocation: hubtest.OfficeIbombo, Declaration: declJSON})
			if err != nil {
				b.Errorf("create+notify: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkBareGin (baseline a): a bare Gin handler that reads a JSON body
// of the same size and answers a small JSON, same transport, same clients.
func BenchmarkBareGin(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.POST(notifyPath, func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err != nil || len(body) == 0 {
			c.JSON(http.StatusBadRequest, gin.H{"message": "bad body"})
			return
		}
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"message": err.Error()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"id": "5b1ae3b4-8c71-4d6c-9a3c-0c1f4f3fa2a9", "trackingId": "B7K2M9Q", "length": len(body)})
	})
	srv := httptest.NewServer(e) // 127.0.0.1
	defer srv.Close()
	c := newCaller(srv.URL, "not-checked")
	defer c.close()
	bs := newBodies()
	postLoop(b, c, notifyPath, bs.next)
}

// BenchmarkBareSQLiteInsert (baseline b): database/sql with
// modernc.org/sqlite and the store's file settings (WAL,
// synchronous=FULL, busy_timeout), one small row INSERT per transaction
// (one fsync each), from 32 goroutines: over one connection (the usual
// single-writer setup) and over a pool of 32 (writers queue on SQLite's
// lock). The store's group commit must beat this.
func BenchmarkBareSQLiteInsert(b *testing.B) {
	for _, conns := range []int{1, benchClients} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			q := url.Values{}
			q.Add("_pragma", "busy_timeout(5000)")
			q.Add("_pragma", "journal_mode(WAL)")
			q.Add("_pragma", "synchronous(FULL)")
			q.Add("_txlock", "immediate")
			db, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "bare.db")+"?"+q.Encode())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(conns)
			db.SetMaxIdleConns(conns)
			if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, transaction_id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			var seq atomic.Int64
			setParallelism(b, benchClients)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						b.Errorf("begin: %v", err)
						return
					}
					_, err = tx.Exec(`INSERT INTO notes (transaction_id, created_at) VALUES (?, ?)`,
						"bare-"+strconv.FormatInt(seq.Add(1), 10), time.Now().UTC().Format(time.RFC3339Nano))
					if err == nil {
						err = tx.Commit()
					} else {
						_ = tx.Rollback()
					}
					if err != nil {
						b.Errorf("insert: %v", err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// systemPrincipal creates a client and authenticates one of its tokens
// the way the HTTP layer does.
func systemPrincipal(b testing.TB, h *hubtest.Hub) core.Principal {
	b.Helper()
	tok := h.ClientToken(hubtest.OfficeIbombo, notifyScopes...)
	p, err := h.App.Auth.Authenticate(context.Background(), "Bearer "+tok)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func mustRaw(b testing.TB, v any) json.RawMessage {
	b.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}
