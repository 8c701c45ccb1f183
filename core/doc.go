// Package core is the OpenCRVS-compatible vital event engine of crvshub.
//
// It holds the event model (EventDocument, Action and their statuses), the
// one table of allowed actions, the derivation of status and flags from
// accepted actions, declaration validation against the country's form
// configuration, the search query language, scopes, and the ports (Go
// interfaces) that storage and confirmation partners implement.
//
// core imports no HTTP framework and no other crvshub package: the HTTP
// server, storage engines and National ID adapters depend on core, never the
// other way round.
package core
