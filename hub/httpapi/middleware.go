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
	"regexp"
	"runtime/debug"
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
// requests).
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
		log.InfoContext(c.Request.Context(), "http", attrs...)
	}
}

// recoverJSON turns a panic into a logged 500 with a JSON body; no panic
// reaches a client as a dropped connection or a stack trace.
func recoverJSON(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				log.ErrorContext(c.Request.Context(), "panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()),
					"correlationId", correlationID(c))
				if !c.Writer.Written() {
					c.AbortWithStatusJSON(http.StatusInternalServerError, ErrorBody{
						Message: "Internal error; quote correlation id " + correlationID(c), Code: "INTERNAL"})
				} else {
					c.Abort()
				}
			}
		}()
		c.Next()
	}
}

// readBody reads a JSON request body of at most max bytes into the
// context. A missing Content-Type is taken as JSON (as OpenCRVS does); any
// other type than application/json (or +json) is 415; a larger body 413.
func readBody(max int64, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if ct := c.GetHeader("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || !(mt == "application/json" || (len(mt) > 5 && mt[len(mt)-5:] == "+json")) {
				writeError(c, log, core.Errorf(core.KindUnsupportedType, "UNSUPPORTED_MEDIA_TYPE",
					"Content-Type %q is not supported; send application/json", ct))
				return
			}
		}
		if c.Request.ContentLength > max {
			writeError(c, log, tooLarge(max))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, max))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(c, log, tooLarge(max))
				return
			}
			writeError(c, log, core.Errorf(core.KindInvalid, "BAD_BODY", "Could not read the request body"))
			return
		}
		c.Set(ctxBody, bytes.TrimSpace(body))
		c.Next()
	}
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

// authenticate requires a valid bearer token and stores the principal.
func (s *Server) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.deps.Auth.Authenticate(c.Request.Context(), c.GetHeader("Authorization"))
		if err != nil {
			writeError(c, s.log, err)
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
func (s *Server) requireScopes(groups [][]string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := principal(c)
		for _, g := range groups {
			if err := core.RequireScope(p, g, ""); err != nil {
				writeError(c, s.log, err)
				return
			}
		}
		c.Next()
	}
}

// limitConcurrency lets at most n requests of a route run at once; the
// others wait up to wait, then get 429 with Retry-After. It guards the
// token endpoints, where each request costs a deliberately slow bcrypt
// comparison, so a flood of token requests cannot starve the hub.
func limitConcurrency(n int, wait time.Duration) gin.HandlerFunc {
	sem := make(chan struct{}, n)
	return func(c *gin.Context) {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case sem <- struct{}{}:
		case <-t.C:
			c.Header("Retry-After", "1")
			c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"error": "temporarily_unavailable",
				"error_description": "too many token requests at once; retry shortly"})
			return
		case <-c.Request.Context().Done():
			c.Abort()
			return
		}
		defer func() { <-sem }()
		c.Next()
	}
}
