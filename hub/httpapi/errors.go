package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
)

// ErrorBody is the JSON body of every error answer of the events API: the
// hub's code and field errors, and beside them the data of an OpenCRVS
// v2.0 (tRPC) error, for clients that read that.
type ErrorBody struct {
	Message string            `json:"message"`
	Code    string            `json:"code"`
	Errors  []core.FieldError `json:"errors,omitempty"`
	Data    *ErrorData        `json:"data,omitempty"`
}

// ErrorData is a tRPC error's data: its code name ("BAD_REQUEST"), its
// HTTP status and the path of the procedure that failed ("event.create").
// Routes OpenCRVS does not have give their route instead ("/api/events/ops/pending").
type ErrorData struct {
	Code       string `json:"code"`
	HTTPStatus int    `json:"httpStatus"`
	Path       string `json:"path"`
}

// trpcCodes are tRPC's names of the statuses the hub answers.
var trpcCodes = map[int]string{
	http.StatusBadRequest:            "BAD_REQUEST",
	http.StatusUnauthorized:          "UNAUTHORIZED",
	http.StatusForbidden:             "FORBIDDEN",
	http.StatusNotFound:              "NOT_FOUND",
	http.StatusMethodNotAllowed:      "METHOD_NOT_SUPPORTED",
	http.StatusRequestTimeout:        "TIMEOUT",
	http.StatusConflict:              "CONFLICT",
	http.StatusPreconditionFailed:    "PRECONDITION_FAILED",
	http.StatusRequestEntityTooLarge: "PAYLOAD_TOO_LARGE",
	http.StatusUnsupportedMediaType:  "UNSUPPORTED_MEDIA_TYPE",
	http.StatusUnprocessableEntity:   "UNPROCESSABLE_CONTENT",
	http.StatusTooManyRequests:       "TOO_MANY_REQUESTS",
	http.StatusNotImplemented:        "NOT_IMPLEMENTED",
	http.StatusServiceUnavailable:    "SERVICE_UNAVAILABLE",
}

// procedures are the OpenCRVS v2.0 tRPC procedures behind the routes the
// hub shares with it (packages/events/src/router); the action routes are
// event.actions.<action>.request (see procedurePath).
var procedures = map[string]string{
	"GET " + EventsPrefix + "/config":          "event.config.get",
	"GET " + EventsPrefix + "/locations":       "locations.list",
	"POST " + EventsPrefix + "/events":         "event.create",
	"POST " + EventsPrefix + "/events/notify":  "event.actions.createAndNotify.request",
	"POST " + EventsPrefix + "/events/search":  "event.search",
	"GET " + EventsPrefix + "/events/:eventId": "event.get",
}

// procedurePath is the tRPC path of the request's route, or the route
// itself when OpenCRVS has no such procedure (the request's path when no
// route matched).
func procedurePath(c *gin.Context) string {
	route := c.FullPath()
	if route == "" {
		return c.Request.URL.Path
	}
	if p, ok := procedures[c.Request.Method+" "+route]; ok {
		return p
	}
	if slug, ok := strings.CutPrefix(route, EventsPrefix+"/events/:eventId/"); ok && c.Request.Method == http.MethodPost {
		for _, a := range actionRoutes {
			if a.slug == slug {
				// "correction/request" -> correction.request, "print-certificate" -> printCertificate
				parts := strings.Split(slug, "/")
				for i, p := range parts {
					words := strings.Split(p, "-")
					for j := 1; j < len(words); j++ {
						words[j] = strings.ToUpper(words[j][:1]) + words[j][1:]
					}
					parts[i] = strings.Join(words, "")
				}
				return "event.actions." + strings.Join(parts, ".") + ".request"
			}
		}
	}
	return route
}

// errorBody builds the body of an error answer with its status.
func errorBody(c *gin.Context, status int, message, code string, fields []core.FieldError) ErrorBody {
	tc := trpcCodes[status]
	if tc == "" {
		tc = "INTERNAL_SERVER_ERROR"
	}
	return ErrorBody{Message: message, Code: code, Errors: fields,
		Data: &ErrorData{Code: tc, HTTPStatus: status, Path: procedurePath(c)}}
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

// errorRenderer answers an error and stops the chain: writeError's JSON
// on the events API, an OperationOutcome on the FHIR routes (fhirFail).
// Each route picks one, and the shared middleware (authenticate,
// requireScopes, readBody) answers with it.
type errorRenderer func(c *gin.Context, err error)

// failJSON is writeError as an errorRenderer.
func (s *Server) failJSON(c *gin.Context, err error) { writeError(c, s.log, err) }

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

// Unwrap lets http.ResponseController reach the connection through the
// wrapper: the body read deadlines (readBudgeted, readAhead) are set on it,
// and without Unwrap a slow body would be waited for without end.
func (w *retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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
	ce = echoSafe(ce)
	status := statusOf(ce.Kind)
	body := errorBody(c, status, ce.Message, ce.Code, ce.Fields)
	if status >= 500 {
		log.ErrorContext(c.Request.Context(), "request failed", "error", err.Error(),
			"correlationId", correlationID(c), "path", c.FullPath())
		if ce.Kind == core.KindInternal {
			body = errorBody(c, status, "Internal error; quote correlation id "+correlationID(c), "INTERNAL", nil)
		}
	}
	setErrorHeaders(c, status)
	c.AbortWithStatusJSON(status, body)
}

// setErrorHeaders adds the headers an error status calls for, whatever the
// body's format: a 401 names the scheme, a 429 says when to retry.
func setErrorHeaders(c *gin.Context, status int) {
	switch status {
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="crvshub"`)
	case http.StatusTooManyRequests:
		c.Header("Retry-After", "1")
	}
}
