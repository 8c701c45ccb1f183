// Package httpapi is the hub's HTTP surface: the Gin engine, its
// middleware (correlation ids, logging, panic recovery, body limits,
// content types, bearer authentication, per-route scopes), the
// OpenCRVS-compatible /api/events routes, and the OpenAPI document, which
// is generated from the same route table that registers the handlers.
//
// Errors from core are mapped to HTTP status codes in one place
// (errors.go).
package httpapi
