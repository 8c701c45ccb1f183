// Package sqlite is the SQLite storage engine of crvshub: an implementation
// of core.Store over one database file, using the pure-Go driver
// modernc.org/sqlite (no cgo).
//
// # Durability and concurrency
//
// The database runs in WAL mode with synchronous=FULL by default, so a
// write that Write has acknowledged survives a power cut. Every connection
// gets its pragmas (busy_timeout, journal_mode, synchronous, foreign_keys)
// from DSN _pragma parameters, so pooled connections cannot miss them.
//
// All writes go through one writer goroutine that owns the only write
// connection. Write hands the caller's function to that goroutine, which
// takes every request waiting (up to Options.MaxBatch), opens one
// transaction with BEGIN IMMEDIATE, runs each function inside its own
// SAVEPOINT (a function that fails or panics is rolled back to its
// savepoint and gets its error alone) and ends the batch with one COMMIT,
// that is one fsync for the whole batch ("group commit"). Every caller is
// answered only after the COMMIT returned. Reads use a separate pool of
// read-only connections, which WAL lets run beside the writer.
//
// Several processes may open the same file (the CLI writes clients while
// the server runs): SQLite's file locks serialise their writers, and schema
// migrations run inside BEGIN IMMEDIATE so concurrent openers apply each
// migration exactly once.
//
// # Schema
//
// The schema is created by the numbered SQL files in migrations/, applied
// in order at Open and recorded in schema_migrations. Timestamps are stored
// as RFC 3339 UTC text with a fixed nine-digit fraction, so they compare
// correctly as text and round-trip exactly. Searches compile a
// core.SearchFilter into parameterised SQL over the events_index table and
// its event_fields and event_flags side tables, where every condition is
// answered from an index: the side tables are keyed by the integer rid that
// every index of events_index carries, the search indexes are partial
// (deleted = 0), and the returned documents live apart in
// events_index_docs, so filters and counts rarely read a table row.
package sqlite
