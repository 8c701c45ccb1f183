package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"regexp"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
)

const (
	ctxCorrelation = "crvshub.correlationId"
	ctxPrincipal   = "crvshub.principal"
	ctxBody        = "crvshub.body"
	// HeaderCorrelationID carries the correlation id in and out.
	HeaderCorrelationID = "X-Correlation-ID"
)

var correlationRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func correlationID(c *gin.Context) string { return c.GetString(ctxCorrelation) }

// withCorrelation takes X-Correlation-ID (or X-Request-ID) from the request
// when it is well-formed, else makes one; echoes it; and puts it with the
// remote address into the request context for the audit trail.
func withCorrelation() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderCorrelationID)
		if id == "" {
			id = c.GetHeader("X-Request-ID")
		}
		if !correlationRe.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxCorrelation, id)
		c.Header(HeaderCorrelationID, id)
		ctx := core.WithRequestMeta(c.Request.Context(), core.RequestMeta{CorrelationID: id, RemoteAddr: c.ClientIP()})
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// accessLog logs one line per request. It logs the route pattern, never
// the raw URL: query strings may carry client secrets (OpenCRVS v1 token
// requests). A 5xx answer's errors recorded on the gin context (c.Error:
// the token endpoint's server errors, which answer only "internal error")
// are logged with it, at level error, so a failing token endpoint is seen;
// whoever records an error there must keep secrets out of it (the token
// handler's errors are store and signing failures, never credentials).
func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "(no route)"
		}
		attrs := []any{"method", c.Request.Method, "route", route, "status", c.Writer.Status(),
			"durationMs", float64(time.Since(start).Microseconds()) / 1000, "correlationId", correlationID(c)}
		if p, ok := c.Get(ctxPrincipal); ok {
			attrs = append(attrs, "caller", p.(core.Principal).ID)
		}
		level := slog.LevelInfo
		if c.Writer.Status() >= 500 && len(c.Errors) > 0 {
			attrs = append(attrs, "errors", c.Errors.Errors())
			level = slog.LevelError
		}
		log.Log(c.Request.Context(), level, "http", attrs...)
	}
}

// recoverTo turns a panic into a logged 500 answered by the renderer:
// JSON for the whole engine (recoverJSON), an OperationOutcome on the
// FHIR routes (first in their chain). No panic reaches a client as a
// dropped connection, a stack trace or an answer in the wrong format.
func recoverTo(log *slog.Logger, fail errorRenderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.ErrorContext(c.Request.Context(), "panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()),
					"correlationId", correlationID(c))
				if !c.Writer.Written() {
					fail(c, errPanic) // an internal error: the answer quotes the correlation id only
				} else {
					c.Abort()
				}
			}
		}()
		c.Next()
	}
}

// errPanic is the error a recovered panic is answered with.
var errPanic = errors.New("panic in the request handler (logged)")

// recoverJSON is recoverTo answering JSON.
func recoverJSON(log *slog.Logger) gin.HandlerFunc {
	return recoverTo(log, func(c *gin.Context, err error) { writeError(c, log, err) })
}

// mediaRule says which request media types a route takes.
type mediaRule struct {
	accepts func(mediaType string) bool
	want    string // named in the 415 answer
}

// jsonMedia is the events API's rule: application/json or any +json type.
var jsonMedia = mediaRule{want: "application/json", accepts: func(mt string) bool {
	return mt == "application/json" || (len(mt) > 5 && mt[len(mt)-5:] == "+json")
}}

// readBody reads a JSON request body of at most max bytes into the
// context (readBudgeted), and keeps its bytes reserved until the handler
// has answered. A missing Content-Type is taken as JSON (as OpenCRVS does);
// a type the route's media rule refuses is 415; a larger body 413, a late
// one 408. Errors are answered by the route's renderer (JSON or
// OperationOutcome).
func (s *Server) readBody(max int64, media mediaRule, fail errorRenderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		if ct := c.GetHeader("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || !media.accepts(mt) {
				fail(c, core.Errorf(core.KindUnsupportedType, "UNSUPPORTED_MEDIA_TYPE",
					"Content-Type %q is not supported; send %s", ct, media.want))
				return
			}
		}
		b, release, err := s.readBudgeted(c, max)
		if err != nil {
			fail(c, err)
			return
		}
		defer release()
		c.Set(ctxBody, bytes.TrimSpace(b))
		c.Next()
	}
}

// readBudgeted reads the request body, of at most max bytes (413 beyond),
// inside the server's body budget (BodyLimits), and answers it with a
// function that gives its bytes back; call it once the handler has
// answered. It is the one body reader of the authenticated routes, so it
// runs after authentication, and before any concurrency slot is taken.
//
//   - The request first takes one of its client's slots (the principal's
//     id; the remote address for a route without a token).
//   - A body with a Content-Length reserves that many bytes before a byte
//     is read; a chunked body reserves its buffer as it grows.
//   - The connection gets a read deadline proportional to the size
//     (BodyLimits.readDeadline: of the Content-Length, or of the buffer
//     so far for a chunked body); a body not in by then is a 408 and the
//     connection is closed.
//   - No slot or no budget within BodyLimits.Wait: 503 with Retry-After;
//     so is, at once, a body that would take the bodies of a client
//     already holding one past half the budget (only the client's own
//     requests can free it).
//
// Errors are *core.Error, for the caller to answer in its own shape.
func (s *Server) readBudgeted(c *gin.Context, max int64) ([]byte, func(), error) {
	ctx := c.Request.Context()
	cl := c.Request.ContentLength
	if cl > max {
		return nil, nil, s.bodyRefusal(c, max, errTooLarge)
	}
	key := principal(c).ID
	if key == "" {
		key = "addr:" + c.ClientIP()
	}
	client, releaseSlot, err := s.bodies.clientSlot(ctx, key)
	if err != nil {
		return nil, nil, s.bodyRefusal(c, max, err)
	}
	res := &reservation{b: s.bodies, client: client}
	var once sync.Once
	release := func() { once.Do(func() { res.release(); releaseSlot() }) }

	start := time.Now()
	rc := http.NewResponseController(c.Writer)
	deadlineSet := true
	setDeadline := func(n int64) {
		if rc.SetReadDeadline(start.Add(s.bodies.limits.readDeadline(n))) != nil {
			deadlineSet = false
		}
	}
	var buf []byte
	if cl >= 0 {
		if err := res.grow(ctx, cl); err != nil {
			release()
			return nil, nil, s.bodyRefusal(c, max, err)
		}
		setDeadline(cl)
		buf = make([]byte, cl)
		_, err = io.ReadFull(c.Request.Body, buf)
	} else {
		buf, err = readChunked(ctx, c.Request.Body, max, res, setDeadline)
	}
	if err == nil && deadlineSet {
		// the whole body is in; the server's own limits apply again to
		// the next request on the connection. On an error the deadline
		// stays: the server reads no more than it allowed.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		release()
		return nil, nil, s.bodyRefusal(c, max, err)
	}
	return buf, release, nil
}

// readChunked reads a body of unknown length, at most max bytes, growing
// its buffer (and the reservation of its bytes, and the read deadline)
// in doublings.
func readChunked(ctx context.Context, r io.Reader, max int64, res *reservation, setDeadline func(int64)) ([]byte, error) {
	size := min(int64(32<<10), max+1)
	if err := res.grow(ctx, size); err != nil {
		return nil, err
	}
	setDeadline(size)
	buf := make([]byte, 0, size)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > max {
			return nil, errTooLarge
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			next := min(2*int64(cap(buf)), max+1)
			if err := res.grow(ctx, next-int64(cap(buf))); err != nil {
				return nil, err
			}
			setDeadline(next)
			buf = append(make([]byte, 0, next), buf...)
		}
	}
}

// errTooLarge: a chunked body went over the limit.
var errTooLarge = errors.New("request body too large")

// bodyRefusal turns a failure of readBudgeted into the error to answer,
// setting the headers that go with it.
func (s *Server) bodyRefusal(c *gin.Context, max int64, err error) error {
	// the body is not read (or not whole): the connection cannot be used
	// again, and without this net/http would wait for the rest of the body
	// before sending the answer
	c.Header("Connection", "close")
	switch {
	case errors.Is(err, errTooLarge):
		return tooLarge(max)
	case errors.Is(err, errBodyBudget):
		c.Header("Retry-After", "1")
		return core.Errorf(core.KindUnavailable, "BODY_BUDGET_EXHAUSTED",
			"The hub holds as many request bodies as it may at once; retry shortly")
	case errors.Is(err, errClientBytes):
		c.Header("Retry-After", "1")
		return core.Errorf(core.KindUnavailable, "CLIENT_BODY_BUDGET",
			"This client's requests would hold more than half the hub's body budget (%d bytes); retry shortly", s.bodies.limits.clientShare())
	case errors.Is(err, errClientBusy):
		c.Header("Retry-After", "1")
		return core.Errorf(core.KindUnavailable, "CLIENT_BODY_LIMIT",
			"This client already has %d requests with bodies in progress; retry shortly", s.bodies.limits.PerClient)
	case errors.Is(err, os.ErrDeadlineExceeded):
		l := s.bodies.limits
		return core.Errorf(core.KindTimeout, "BODY_TIMEOUT",
			"Timed out reading the request body: it did not arrive within its read deadline (%s plus 1 s per %d bytes)", l.ReadBase, l.ReadRate)
	}
	return core.Errorf(core.KindInvalid, "BAD_BODY", "Could not read the request body")
}

func tooLarge(max int64) error {
	return core.Errorf(core.KindTooLarge, "PAYLOAD_TOO_LARGE", "Request body is larger than %d bytes", max)
}

func body(c *gin.Context) []byte {
	b, _ := c.Get(ctxBody)
	bb, _ := b.([]byte)
	return bb
}

// Authenticator turns an Authorization header into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (core.Principal, error)
}

// authenticate requires a valid bearer token and stores the principal;
// errors are answered by the route's renderer.
func (s *Server) authenticate(fail errorRenderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.deps.Auth.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(ctxPrincipal, p)
		c.Next()
	}
}

func principal(c *gin.Context) core.Principal {
	p, _ := c.Get(ctxPrincipal)
	pp, _ := p.(core.Principal)
	return pp
}

// requireScopes is the route-level scope check: the caller must hold, for
// each group, at least one of its scope types (the event option is checked
// by the engine, which knows the event type). Missing -> 403 naming it.
func (s *Server) requireScopes(groups [][]string, fail errorRenderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principal(c)
		for _, g := range groups {
			if err := core.RequireScope(p, g, ""); err != nil {
				fail(c, err)
				return
			}
		}
		c.Next()
	}
}

// limiter lets at most n holders in at once; the others wait up to wait
// for a slot. It bounds the costly part of a request (a bcrypt comparison,
// mapping a FHIR bundle), never the reading of its body: a slot held while
// a client trickles its body in would let a few idle connections lock
// everyone else out.
type limiter struct {
	sem  chan struct{}
	wait time.Duration
}

func newLimiter(n int, wait time.Duration) *limiter {
	return &limiter{sem: make(chan struct{}, n), wait: wait}
}

// errBusy: no slot came free in time.
var errBusy = errors.New("too many requests at once")

// acquire takes a slot. It answers a release function (safe to call more
// than once), or errBusy, or the context's error if the client left.
func (l *limiter) acquire(ctx context.Context) (func(), error) {
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.sem <- struct{}{}:
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() { once.Do(func() { <-l.sem }) }, nil
}

// limitConcurrency lets at most n requests of a route run at once; the
// others wait up to wait, then get 429 with Retry-After. It guards the
// token endpoints, where each request costs a deliberately slow bcrypt
// comparison, so a flood of token requests cannot starve the hub. Put it
// after readAhead: the body must be in before a slot is taken.
func limitConcurrency(n int, wait time.Duration) gin.HandlerFunc {
	l := newLimiter(n, wait)
	return func(c *gin.Context) {
		release, err := l.acquire(c.Request.Context())
		if errors.Is(err, errBusy) {
			c.Header("Retry-After", "1")
			c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"error": "temporarily_unavailable",
				"error_description": "too many token requests at once; retry shortly"})
			return
		}
		if err != nil {
			c.Abort()
			return
		}
		defer release()
		c.Next()
	}
}

// TokenBodyTimeout is how long a token request may take to send its body.
// Token bodies are a few hundred bytes; a client that has not sent one in
// this time is answered 408 and its connection closed.
const TokenBodyTimeout = 5 * time.Second

// readAhead reads up to max bytes of the request body, under a read
// deadline of timeout, before the rest of the chain runs (the concurrency
// limit included), and hands the handler the same bytes (followed by
// whatever is left, for a body over max: the handler's own size check
// still answers 413). A client that sends its body slowly then only holds
// its own connection, never a slot others need. It answers the OAuth2
// error shape, as the token routes it guards.
func readAhead(max int64, timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		deadline := rc.SetReadDeadline(time.Now().Add(timeout)) == nil
		b, err := io.ReadAll(io.LimitReader(c.Request.Body, max+1))
		if err == nil && deadline && int64(len(b)) <= max {
			// the whole body is in; the server's own limits apply again to
			// the next request. On an error, or a body over max, the
			// deadline stays: the server reads no more than it allows.
			_ = rc.SetReadDeadline(time.Time{})
		}
		if err != nil {
			status, desc := http.StatusBadRequest, "request body could not be read"
			if errors.Is(err, os.ErrDeadlineExceeded) {
				status, desc = http.StatusRequestTimeout, "request body not received in time"
			}
			c.Header("Connection", "close")
			c.AbortWithStatusJSON(status, gin.H{"error": "invalid_request", "error_description": desc})
			return
		}
		c.Request.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), c.Request.Body), c.Request.Body}
		c.Next()
	}
}
