package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
)

// Ops is the operator's view of National ID deliveries (hub/nationalid).
type Ops interface {
	DeadLetters(ctx context.Context, p core.Principal, status string, limit int) ([]core.DeadLetter, error)
	Replay(ctx context.Context, p core.Principal, ids []string) ([]core.DeadLetter, error)
	Discard(ctx context.Context, p core.Principal, id, reason string) (*core.DeadLetter, error)
	Pending(ctx context.Context, p core.Principal, olderThan time.Duration, limit int) (*core.SearchResult, error)
	// ConfirmationToken mints a record-scoped confirmation token for one
	// Requested action, for a caller that may confirm and reject it
	// itself, and audits who minted it.
	ConfirmationToken(ctx context.Context, p core.Principal, eventID, actionID string) (token string, expiresIn int, err error)
}

// PartnerRoute is an endpoint a partner adapter serves (e.g. the MOSIP
// WebSub callback). It is not behind the hub's bearer auth: the adapter
// authenticates what it receives (signatures, HMAC) itself.
type PartnerRoute struct {
	Method, Path, Summary string
	Handler               http.Handler
	// MaxBody bounds a POST, PUT or PATCH body (413 beyond); the body is
	// read inside the body budget before Handler runs (see
	// partnerBody). 0 = Deps.MaxBody.
	MaxBody int64
}

// ResolveInput is the body of the accept and reject endpoints (OpenCRVS's
// register.accept / register.reject inputs).
type ResolveInput struct {
	TransactionID      string           `json:"transactionId"`
	EventID            string           `json:"eventId"`
	ActionID           string           `json:"actionId"`
	RegistrationNumber string           `json:"registrationNumber"`
	Declaration        core.Declaration `json:"declaration"`
	Reason             string           `json:"reason"`
}

// ReplayInput is the body of POST /ops/dead-letters/replay.
type ReplayInput struct {
	IDs []string `json:"ids"`
}

// DiscardInput is the body of POST /ops/dead-letters/{id}/discard.
type DiscardInput struct {
	Reason string `json:"reason"`
}

// ConfirmationTokenResponse answers a confirmation token request.
type ConfirmationTokenResponse struct {
	Token     string `json:"token"`
	ExpiresIn int    `json:"expiresIn"`
}

func (s *Server) opsRoutes() []route {
	ev := EventsPrefix
	ops := [][]string{{core.ScopeOpsManage}}
	rs := []route{
		{method: "POST", path: ev + "/events/:eventId/actions/:actionId/accept", summary: "Accept a Requested action (record-scoped confirmation token or scope record.confirm-registration)",
			tag: "confirmation", auth: true, scopes: [][]string{{core.ScopeConfirmRegistration}}, body: true, request: "ResolveInput", response: "EventDocument",
			handler: s.resolve(core.Accept), statuses: []int{400, 401, 403, 404, 409, 413, 415}},
		{method: "POST", path: ev + "/events/:eventId/actions/:actionId/reject", summary: "Reject a Requested action (record-scoped confirmation token or scope record.reject-registration)",
			tag: "confirmation", auth: true, scopes: [][]string{{core.ScopeRejectRegistration}}, body: true, request: "ResolveInput", response: "EventDocument",
			handler: s.resolve(core.Reject), statuses: []int{400, 401, 403, 404, 409, 413, 415}},
		{method: "GET", path: ev + "/ops/dead-letters", summary: "Dead letters in arrival order (query: status=dead|replayed|discarded, limit)",
			tag: "ops", auth: true, scopes: ops, response: "DeadLetter", responseIsArray: true, handler: s.deadLetters, statuses: []int{400, 401, 403, 503}},
		{method: "POST", path: ev + "/ops/dead-letters/replay", summary: "Replay dead letters in arrival order: the ids given, or every dead one when ids is left out",
			tag: "ops", auth: true, scopes: ops, body: true, request: "ReplayInput", response: "DeadLetter", responseIsArray: true, handler: s.replay, statuses: []int{400, 401, 403, 404, 409, 413, 415, 503}},
		{method: "POST", path: ev + "/ops/dead-letters/:id/replay", summary: "Replay one dead letter",
			tag: "ops", auth: true, scopes: ops, response: "DeadLetter", responseIsArray: true, handler: s.replayOne, statuses: []int{401, 403, 404, 409, 503}},
		{method: "POST", path: ev + "/ops/dead-letters/:id/discard", summary: "Discard one dead letter, with a reason",
			tag: "ops", auth: true, scopes: ops, body: true, request: "DiscardInput", response: "DeadLetter", handler: s.discard, statuses: []int{400, 401, 403, 404, 409, 413, 415, 503}},
		{method: "GET", path: ev + "/ops/pending", summary: "Records waiting for a partner longer than the routing's pendingAfter (query: olderThan e.g. 30m, limit; also needs record.search)",
			tag: "ops", auth: true, scopes: [][]string{{core.ScopeOpsManage}, {core.ScopeRecordSearch}}, response: "SearchResult", handler: s.pending, statuses: []int{400, 401, 403, 503}},
		{method: "POST", path: ev + "/ops/pending/:eventId/:actionId/resend", summary: "Send a Requested action to its partner again; answers a receipt, not the record",
			tag: "ops", auth: true, scopes: ops, response: "ResendReceipt", handler: s.resend, statuses: []int{401, 403, 404, 409}},
		{method: "POST", path: ev + "/ops/pending/:eventId/:actionId/token", summary: "Issue a record-scoped confirmation token (7 days) for a Requested action, for an external integration (also needs record.confirm-registration and record.reject-registration reaching the event; revoked by disabling the client)",
			tag: "ops", auth: true, scopes: [][]string{{core.ScopeOpsManage}, {core.ScopeConfirmRegistration}, {core.ScopeRejectRegistration}},
			response: "ConfirmationToken", handler: s.confirmationToken, statuses: []int{401, 403, 404, 409, 503}},
	}
	if s.deps.Metrics != nil {
		rs = append(rs, route{method: "GET", path: "/metrics", summary: "Prometheus metrics (breaker states, outbox, dead letters, Go runtime)",
			tag: "ops", handler: gin.WrapH(s.deps.Metrics), response: "Metrics"})
	}
	for _, pr := range s.deps.PartnerRoutes {
		h, statuses := gin.WrapH(pr.Handler), []int{400}
		switch pr.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			max := pr.MaxBody
			if max <= 0 {
				max = s.deps.MaxBody
			}
			h, statuses = s.partnerBody(max, h), []int{400, 408, 413, 503}
		}
		rs = append(rs, route{method: pr.Method, path: pr.Path, summary: pr.Summary, tag: "partners",
			handler: h, statuses: statuses})
	}
	return rs
}

func (s *Server) resolve(d core.Decision) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in ResolveInput
		if err := decodeInput(body(c), &in); err != nil {
			s.fail(c, err)
			return
		}
		eventID, actionID := c.Param("eventId"), c.Param("actionId")
		if in.EventID != "" && in.EventID != eventID || in.ActionID != "" && in.ActionID != actionID {
			s.fail(c, core.Errorf(core.KindInvalid, "INVALID_INPUT", "eventId/actionId in the body do not match the path"))
			return
		}
		conf := core.Confirmation{Decision: d, RegistrationNumber: in.RegistrationNumber, Declaration: in.Declaration, Reason: in.Reason}
		if d == core.Reject && (in.RegistrationNumber != "" || len(in.Declaration) > 0) {
			s.fail(c, core.Errorf(core.KindInvalid, "INVALID_INPUT", "a rejection takes only reason"))
			return
		}
		if d == core.Accept && in.Reason != "" {
			s.fail(c, core.Errorf(core.KindInvalid, "INVALID_INPUT", "reason is for rejections"))
			return
		}
		ev, err := s.deps.Service.Resolve(c.Request.Context(), principal(c), eventID, actionID, conf)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, ev)
	}
}

func (s *Server) opsOrFail(c *gin.Context) bool {
	if s.deps.Ops == nil {
		s.fail(c, core.Errorf(core.KindUnavailable, "NOT_CONFIGURED", "National ID routing is not configured on this hub"))
		return false
	}
	return true
}

func queryLimit(c *gin.Context) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > core.MaxSearchLimit {
		return 0, core.Errorf(core.KindInvalid, "INVALID_INPUT", "limit must be a number from 1 to %d", core.MaxSearchLimit)
	}
	return n, nil
}

func (s *Server) deadLetters(c *gin.Context) {
	if !s.opsOrFail(c) {
		return
	}
	limit, err := queryLimit(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	ds, err := s.deps.Ops.DeadLetters(c.Request.Context(), principal(c), c.Query("status"), limit)
	s.reply(c, ds, err)
}

func (s *Server) replay(c *gin.Context) {
	if !s.opsOrFail(c) {
		return
	}
	var in ReplayInput
	if b := body(c); len(b) > 0 {
		if err := decodeStrict(b, &in); err != nil {
			s.fail(c, err)
			return
		}
	}
	ds, err := s.deps.Ops.Replay(c.Request.Context(), principal(c), in.IDs)
	s.reply(c, ds, err)
}

func (s *Server) replayOne(c *gin.Context) {
	if !s.opsOrFail(c) {
		return
	}
	ds, err := s.deps.Ops.Replay(c.Request.Context(), principal(c), []string{c.Param("id")})
	s.reply(c, ds, err)
}

func (s *Server) discard(c *gin.Context) {
	if !s.opsOrFail(c) {
		return
	}
	var in DiscardInput
	if err := decodeStrict(body(c), &in); err != nil {
		s.fail(c, err)
		return
	}
	d, err := s.deps.Ops.Discard(c.Request.Context(), principal(c), c.Param("id"), in.Reason)
	s.reply(c, d, err)
}

func (s *Server) pending(c *gin.Context) {
	if !s.opsOrFail(c) {
		return
	}
	limit, err := queryLimit(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var older time.Duration
	if v := c.Query("olderThan"); v != "" {
		if older, err = time.ParseDuration(v); err != nil || older < 0 {
			s.fail(c, core.Errorf(core.KindInvalid, "INVALID_INPUT", "olderThan must be a duration such as 30m or 24h"))
			return
		}
	}
	res, err := s.deps.Ops.Pending(c.Request.Context(), principal(c), older, limit)
	s.reply(c, res, err)
}

func (s *Server) resend(c *gin.Context) {
	r, err := s.deps.Service.Resend(c.Request.Context(), principal(c), c.Param("eventId"), c.Param("actionId"))
	s.reply(c, r, err)
}

// confirmationToken answers a minted token with Cache-Control: no-store,
// as the token endpoint does: it is a 7-day bearer credential that no
// cache or proxy may keep.
func (s *Server) confirmationToken(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	if !s.opsOrFail(c) {
		return
	}
	tok, exp, err := s.deps.Ops.ConfirmationToken(c.Request.Context(), principal(c), c.Param("eventId"), c.Param("actionId"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ConfirmationTokenResponse{Token: tok, ExpiresIn: exp})
}

// partnerBody reads a partner callback's body inside the body budget
// (readBudgeted; the callback has no token, so its slots are its
// address's) and hands next the bytes read; they stay reserved until
// next has answered. Without it an unauthenticated sender could hold
// any number of large bodies in memory, outside every budget.
func (s *Server) partnerBody(max int64, next gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		b, release, err := s.readBudgeted(c, max)
		if err != nil {
			s.failJSON(c, err)
			return
		}
		defer release()
		c.Request.Body = io.NopCloser(bytes.NewReader(b))
		next(c)
	}
}
