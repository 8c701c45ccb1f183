package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crvshub/crvshub/core/store/sqlite"
)

// storeMetrics registers the store's commit metrics with reg and returns
// the writer's OnCommit hook that feeds them (chained before next, if any).
func storeMetrics(reg prometheus.Registerer, next func(sqlite.CommitInfo)) func(sqlite.CommitInfo) {
	commit := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "crvshub_store_commit_seconds",
		Help:    "Time of the store's COMMIT statement (WAL writes and fsync), per commit",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}})
	tx := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "crvshub_store_transaction_seconds",
		Help:    "Time of one group-commit transaction, BEGIN to the end of COMMIT (every write in it and the commit)",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}})
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "crvshub_store_commit_batch_writes",
		Help:    "Writes (requests) sharing one commit: the group commit's batch size",
		Buckets: prometheus.ExponentialBuckets(1, 2, 9)}) // 1 .. 256 (MaxBatch)
	reg.MustRegister(commit, tx, batch)
	return func(ci sqlite.CommitInfo) {
		commit.Observe(ci.Commit.Seconds())
		tx.Observe(ci.Transaction.Seconds())
		batch.Observe(float64(ci.Writes))
		if next != nil {
			next(ci)
		}
	}
}
