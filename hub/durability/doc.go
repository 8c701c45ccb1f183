// Package durability holds the hub's durability tests and its throughput
// benchmarks. It has no code of its own: everything is in external tests
// (package durability_test) that drive a real hub over real HTTP on
// loopback, with a real SQLite file.
//
// The tests prove that nothing acknowledged is ever lost or duplicated:
// hundreds of concurrent create+notify requests (and their concurrent
// replays) give exactly one event per transactionId; a stopped and
// restarted hub keeps every event, action, client and its signing key;
// and a `crvshub serve` process killed with SIGKILL in the middle of a
// load keeps every event it answered 200 for, with no transactionId ever
// mapping to two events. The kill test builds the real binary and is
// skipped under `go test -short`.
//
// The benchmarks (run only with -bench) report create+notify throughput
// through the HTTP handler and the store's group commit, next to two
// baselines measured in the same run (a bare Gin handler reading a body of
// the same size, and a bare one-row-per-transaction SQLite insert with the
// store's file settings), and search latency (p50, p99) by tracking id and
// by declaration field over 100,000 events:
//
//	go test -run '^$' -bench . -benchtime 3s ./hub/durability/
//
// The 100,000-event data folder is built once and cached in
// $TMPDIR/crvshub-bench-100k; delete it to rebuild. CRVSHUB_BENCH_EVENTS=N
// uses N events instead (`make bench-smoke`, part of `make test`, runs
// every benchmark once with 1,000).
package durability
