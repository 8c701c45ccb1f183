package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

// benchWriters is the number of concurrent writers in the write
// benchmarks (RunParallel starts SetParallelism*GOMAXPROCS goroutines).
const benchWriters = 32

func setParallelism(b *testing.B) {
	b.SetParallelism(max(1, (benchWriters+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkBareInsertOnePerTx is the baseline: plain database/sql on the
// same driver and pragmas (WAL, synchronous=FULL), one small INSERT per
// transaction, so one fsync per write.
func BenchmarkBareInsertOnePerTx(b *testing.B) {
	for _, conns := range []int{1, benchWriters} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			o, _ := Options{}.withDefaults()
			db, err := sql.Open("sqlite", dsn(filepath.Join(b.TempDir(), "bare.db"), o, false)+"&_txlock=immediate")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(conns)
			db.SetMaxIdleConns(conns)
			if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			var errs atomic.Int64
			setParallelism(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tx, err := db.Begin()
					if err != nil {
						errs.Add(1)
						continue
					}
					if _, err := tx.Exec("INSERT INTO t (v) VALUES (?)", "some small value"); err != nil {
						_ = tx.Rollback()
						errs.Add(1)
						continue
					}
					if err := tx.Commit(); err != nil {
						errs.Add(1)
					}
				}
			})
			reportRate(b)
			// With many connections, writers queue on SQLite's file lock
			// (busy_timeout); some may time out.
			b.ReportMetric(float64(errs.Load()), "failed")
		})
	}
}

// BenchmarkGroupCommitWrite measures Store.Write at the same parallelism:
// "event" inserts one event of three actions per call, "event+index+audit"
// is a full create (event, search index row, audit entry).
func BenchmarkGroupCommitWrite(b *testing.B) {
	for _, full := range []bool{false, true} {
		name := map[bool]string{false: "event", true: "event+index+audit"}[full]
		b.Run(name, func(b *testing.B) {
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), "gc.db"), benchOptions())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var next atomic.Int64
			setParallelism(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := int(next.Add(1))
					err := s.Write(ctx, func(tx core.Tx) error {
						if full {
							if err := benchEvent(tx, i); err != nil {
								return err
							}
							return tx.Audit(core.AuditEntry{At: time.Now(), ActorID: "user-1", ActorType: core.UserTypeUser,
								Operation: "event.create", ObjectType: "event", ObjectID: benchTrackingID(i)})
						}
						return tx.InsertEvent(benchDocument(i))
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b)
			st := s.Stats()
			b.ReportMetric(float64(st.Writes)/float64(max(st.Commits, 1)), "writes/commit")
		})
	}
}

// benchOptions are the store options of the benchmarks: the defaults,
// unless CRVSHUB_BENCH_CACHE_KIB sets Options.CacheKiB.
func benchOptions() Options {
	kib, _ := strconv.Atoi(os.Getenv("CRVSHUB_BENCH_CACHE_KIB"))
	return Options{CacheKiB: kib}
}

// The search benchmarks share one database of benchSearchEvents events,
// loaded once per test binary run into a temporary directory that
// TestMain removes. CRVSHUB_BENCH_EVENTS sets another size (`make
// bench-smoke` runs every benchmark once on a small database).
var benchSearchEvents = benchEventCount()

func benchEventCount() int {
	if n, err := strconv.Atoi(os.Getenv("CRVSHUB_BENCH_EVENTS")); err == nil && n >= 100 {
		return n
	}
	return 100_000
}

var searchDB struct {
	once  sync.Once
	dir   string
	store *Store
	err   error
	load  time.Duration
}

func searchStore(b *testing.B) *Store {
	b.Helper()
	searchDB.once.Do(func() {
		// CRVSHUB_BENCH_DB names a database file to keep between runs
		// (loaded on first use); by default it lives in a temporary
		// directory for this run only.
		path := os.Getenv("CRVSHUB_BENCH_DB")
		if path == "" {
			searchDB.dir, searchDB.err = os.MkdirTemp("", "crvshub-bench-")
			if searchDB.err != nil {
				return
			}
			path = filepath.Join(searchDB.dir, "search.db")
		}
		s, err := Open(context.Background(), path, benchOptions())
		if err != nil {
			searchDB.err = err
			return
		}
		searchDB.store = s
		if _, err := s.EventIDByTrackingID(context.Background(), benchTrackingID(benchSearchEvents-1)); err == nil {
			return // already loaded
		}
		start := time.Now()
		loadEvents(b, s, 0, benchSearchEvents)
		searchDB.load = time.Since(start)
	})
	if searchDB.err != nil {
		b.Fatal(searchDB.err)
	}
	if searchDB.load > 0 {
		b.Logf("%d events loaded in %v", benchSearchEvents, searchDB.load.Round(time.Millisecond))
	}
	return searchDB.store
}

func TestMain(m *testing.M) {
	code := m.Run()
	if searchDB.store != nil {
		_ = searchDB.store.Close()
	}
	if searchDB.dir != "" {
		_ = os.RemoveAll(searchDB.dir)
	}
	if loadedDBs.dir != "" {
		_ = os.RemoveAll(loadedDBs.dir)
	}
	os.Exit(code)
}

// benchSearch runs one search per iteration and reports latency
// percentiles in milliseconds.
func benchSearch(b *testing.B, f func(i int) (core.SearchFilter, int)) {
	s := searchStore(b)
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		filter, want := f(rnd.IntN(benchSearchEvents))
		start := time.Now()
		p, err := s.Search(ctx, filter)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if want >= 0 && p.Total != want {
			b.Fatalf("total %d, want %d", p.Total, want)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Nanoseconds()) / 1e6
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func BenchmarkSearchTrackingID(b *testing.B) {
	benchSearch(b, func(i int) (core.SearchFilter, int) {
		return core.SearchFilter{Where: leafF(core.ColTrackingID, core.OpIn, benchTrackingID(i)), Limit: 10}, 1
	})
}

func BenchmarkSearchField(b *testing.B) {
	b.Run("nid", func(b *testing.B) {
		benchSearch(b, func(i int) (core.SearchFilter, int) {
			return core.SearchFilter{Where: core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "mother.nid",
				Kind: core.KindText, Op: core.OpIn, Values: []string{benchNID(i)}}}, Limit: 10}, 1
		})
	})
	// A broad query: a name prefix matching ~8% of the events, one status,
	// first page of 10 by createdAt plus the total.
	b.Run("name-prefix+status", func(b *testing.B) {
		benchSearch(b, func(i int) (core.SearchFilter, int) {
			return core.SearchFilter{Where: core.Filter{Op: "and", Children: []core.Filter{
				{Cond: &core.Cond{Column: core.ColField, FieldID: "child.name", Kind: core.KindToken, Op: core.OpPrefix,
					Values: []string{benchFirst[i%len(benchFirst)][:3]}}},
				leafF(core.ColStatus, core.OpIn, benchStat[i%len(benchStat)]),
			}}, Limit: 10}, -1
		})
	})
}

// benchDocument is event i without its index row.
func benchDocument(i int) *core.EventDocument {
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	now := benchEpoch.Add(time.Duration(i) * time.Second)
	ev := &core.EventDocument{ID: id, Type: "birth", TrackingID: benchTrackingID(i), CreatedAt: now, UpdatedAt: now}
	for k, typ := range []core.ActionType{core.ActionCreate, core.ActionDeclare, core.ActionValidate} {
		ev.Actions = append(ev.Actions, core.Action{ID: fmt.Sprintf("%s-%d", id, k), Type: typ, Status: core.StatusAccepted,
			TransactionID: fmt.Sprintf("tx-%d-%d", i, k), CreatedBy: "user-1", CreatedByUserType: core.UserTypeUser,
			CreatedAt: now, Declaration: core.Declaration{}})
	}
	return ev
}
