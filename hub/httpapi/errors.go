package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
)

// ErrorBody is the JSON body of every error answer of the events API.
type ErrorBody struct {
	Message string            `json:"message"`
	Code    string            `json:"code"`
	Errors  []core.FieldError `json:"errors,omitempty"`
}

// maxMessage bounds the message of an error answer.
const maxMessage = 4 << 10

// echoSafe answers ce fit to send back: its message cut at maxMessage
// bytes, its field ids and string values clipped (core.ClipTo, with room
// for an id clipped already). It is the backstop under the messages that
// clip what they quote themselves.
func echoSafe(ce *core.Error) *core.Error {
	out := *ce
	out.Message = core.ClipTo(ce.Message, maxMessage)
	if len(ce.Fields) > 0 {
		out.Fields = make([]core.FieldError, len(ce.Fields))
		for i, f := range ce.Fields {
			f.ID, f.Message = core.ClipTo(f.ID, 2*core.MaxEcho), core.ClipTo(f.Message, maxMessage)
			if s, ok := f.Value.(string); ok {
				f.Value = core.ClipTo(s, 2*core.MaxEcho)
			}
			out.Fields[i] = f
		}
	}
	return &out
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
	case core.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case core.KindTooManyRequests:
		return http.StatusTooManyRequests
	case core.KindTimeout:
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

// writeError answers err as {"message","code"} with the mapped status.
// Internal errors are logged with the correlation id and answered with a
// generic message, never their details.
func writeError(c *gin.Context, log *slog.Logger, err error) {
	var ce *core.Error
	if !errors.As(err, &ce) {
		ce = &core.Error{Kind: core.KindInternal, Code: "INTERNAL", Message: "internal error", Err: err}
	}
	ce = echoSafe(ce)
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
