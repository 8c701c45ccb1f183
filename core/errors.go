package core

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Kind classifies an error for callers; the HTTP layer maps each Kind to one
// status code in one place.
type Kind int

// The kinds of error core returns.
const (
	KindInternal        Kind = iota // a bug or an unexpected failure (500)
	KindInvalid                     // the request is malformed or fails validation (400)
	KindUnauthenticated             // no or bad credentials (401)
	KindForbidden                   // credentials lack a scope (403)
	KindNotFound                    // the object does not exist or may not be seen (404)
	KindConflict                    // the request conflicts with the object's state (409)
	KindTooLarge                    // the request body is too large (413)
	KindUnsupportedType             // the request body has the wrong content type (415)
	KindUnavailable                 // a dependency is down; retry later (503)
	KindUnprocessable               // well-formed, but its content cannot be used (422)
	KindTooManyRequests             // too many requests at once; retry shortly (429)
	KindTimeout                     // the request did not arrive in time (408)
)

// FieldError names one problem with one declaration field.
type FieldError struct {
	ID      string `json:"id"`
	Message string `json:"message"`
	Value   any    `json:"value,omitempty"`
}

// Error is the one error type core returns for anything a caller can act on.
type Error struct {
	Kind    Kind
	Code    string       // stable machine-readable code, e.g. "ACTION_NOT_ALLOWED"
	Message string       // human-readable message naming the field or state
	Fields  []FieldError // per-field problems, for validation errors
	Err     error        // the wrapped cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an *Error around a cause.
func Wrap(err error, kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the Kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// Sentinel errors that storage implementations return (wrapped with %w).
var (
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a unique constraint was violated.
	ErrDuplicate = errors.New("duplicate")
	// ErrTrackingIDTaken: the tracking id is already used by another event.
	ErrTrackingIDTaken = errors.New("tracking id taken")
	// ErrRegistrationNumberTaken: the registration number is already used.
	ErrRegistrationNumberTaken = errors.New("registration number taken")
)

// MaxEcho is how many bytes of a client's input an error quotes.
const MaxEcho = 128

// Clip shortens s, a piece of a client's input quoted in an error message
// (a key, an event type, a value), to at most MaxEcho bytes, cut on a rune
// boundary, followed by how long it was: a 900 KB key is not sent back
// whole. Every message that echoes input goes through it.
func Clip(s string) string { return ClipTo(s, MaxEcho) }

// ClipTo is Clip to at most n bytes.
func ClipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}
