package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
)

// ErrorBody is the JSON body of every error answer of the events API.
type ErrorBody struct {
	Message string            `json:"message"`
	Code    string            `json:"code"`
	Errors  []core.FieldError `json:"errors,omitempty"`
}

// statusOf maps an error kind to its HTTP status: the one place where
// this happens.
func statusOf(k core.Kind) int {
	switch k {
	case core.KindInvalid:
		return http.StatusBadRequest
	case core.KindUnauthenticated:
		return http.StatusUnauthorized
	case core.KindForbidden:
		return http.StatusForbidden
	case core.KindNotFound:
		return http.StatusNotFound
	case core.KindConflict:
		return http.StatusConflict
	case core.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case core.KindUnsupportedType:
		return http.StatusUnsupportedMediaType
	case core.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// RetryAfterSeconds is the Retry-After of every 503 the hub answers. Its
// 503s (database or bus without storage, a dependency down, not ready)
// last seconds to minutes: a client waiting this long before it retries
// neither hammers a struggling hub nor waits much past its recovery.
const RetryAfterSeconds = 10

// retryAfter gives every 503 answer a Retry-After (unless its handler
// set one): whichever handler writes it (events API, FHIR, the token
// endpoint, /readyz, a partner callback), this is the one place.
func retryAfter() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Writer = &retryAfterWriter{ResponseWriter: c.Writer}
		c.Next()
	}
}

type retryAfterWriter struct{ gin.ResponseWriter }

func (w *retryAfterWriter) WriteHeader(code int) {
	if code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	w.ResponseWriter.WriteHeader(code)
}

// writeError answers err as {"message","code"} with the mapped status.
// Internal errors are logged with the correlation id and answered with a
// generic message, never their details.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	var ce *core.Error
	if !errors.As(err, &ce) {
		ce = &core.Error{Kind: core.KindInternal, Code: "INTERNAL", Message: "internal error", Err: err}
	}
	status := statusOf(ce.Kind)
	body := ErrorBody{Message: ce.Message, Code: ce.Code, Errors: ce.Fields}
	if status >= 500 {
		log.ErrorContext(c.Request.Context(), "request failed", "error", err.Error(),
			"correlationId", correlationID(c), "path", c.FullPath())
		if ce.Kind == core.KindInternal {
			body = ErrorBody{Message: "Internal error; quote correlation id " + correlationID(c), Code: "INTERNAL"}
		}
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="crvshub"`)
	}
	c.AbortWithStatusJSON(status, body)
}
