package mosip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/crvshub/crvshub/adapters"
)

// maxResponse bounds what is read of a MOSIP answer.
const maxResponse = 1 << 20

// mosipError is one entry of a MOSIP answer's errors array.
type mosipError struct {
	ErrorCode    string `json:"errorCode"`
	Message      string `json:"message"`
	ErrorMessage string `json:"errorMessage"` // IDA's name for it
}

// envelopeErrors reads the errors array of a MOSIP answer (nil if none or
// the body is not a MOSIP envelope).
func envelopeErrors(body []byte) []mosipError {
	var env struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Errors) == 0 {
		return nil
	}
	var errs []mosipError
	if json.Unmarshal(env.Errors, &errs) != nil {
		return nil
	}
	var out []mosipError
	for _, e := range errs {
		if e.Message == "" {
			e.Message = e.ErrorMessage
		}
		if e.ErrorCode != "" || e.Message != "" {
			out = append(out, e)
		}
	}
	return out
}

// errorSuffix names MOSIP's first error code and message, if any.
func errorSuffix(body []byte) string {
	errs := envelopeErrors(body)
	if len(errs) == 0 {
		return ""
	}
	return fmt.Sprintf(": %s %s", errs[0].ErrorCode, truncate(errs[0].Message, 200))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// call is one authenticated MOSIP call.
type call struct {
	name   string // for errors and logs: "createPacket", "workflowinstance", ...
	method string
	url    string
	body   []byte
	ctype  string // default application/json
	corrID string
	tokens *tokenSource
	// authHeader also sends the token as the Authorization header (WebSub hub).
	authHeader bool
	// textOK: a 2xx answer need not be a JSON envelope (WebSub hub).
	textOK bool
}

// isAuthFailure: the token was refused (HTTP 401 or authmanager's
// KER-ATH-401 inside a 200 envelope).
func isAuthFailure(status int, body []byte) bool {
	if status == http.StatusUnauthorized {
		return true
	}
	for _, e := range envelopeErrors(body) {
		if e.ErrorCode == "KER-ATH-401" {
			return true
		}
	}
	return false
}

// send performs c, refreshing the token once on a 401, and classifies the
// failure: network errors, timeouts, 5xx, 429 and a 401 after the refresh
// are transient; other 4xx and a MOSIP errors array wrap
// adapters.ErrPermanent. It returns the answer's body on success.
func (a *Adapter) send(ctx context.Context, c call) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.get(ctx, c.corrID)
		if err != nil {
			return nil, fmt.Errorf("mosip: %s: %w", c.name, err)
		}
		status, body, err := a.do(ctx, c, tok)
		if err != nil {
			return nil, fmt.Errorf("mosip: %s: %w", c.name, err)
		}
		if isAuthFailure(status, body) {
			c.tokens.invalidate(tok)
			if attempt == 0 {
				a.cfg.Log.InfoContext(ctx, "mosip token refused, re-authenticating", "call", c.name, "correlationId", c.corrID)
				continue
			}
			return nil, fmt.Errorf("mosip: %s: token refused after re-authenticating (HTTP %d)", c.name, status)
		}
		return body, classify(c.name, status, body, !c.textOK)
	}
}

// classify turns an HTTP status and MOSIP envelope into nil, a transient
// error or a permanent one.
func classify(name string, status int, body []byte, wantJSON bool) error {
	if err := classifyStatus(name, status, body); err != nil {
		return err
	}
	if errs := envelopeErrors(body); len(errs) > 0 {
		return fmt.Errorf("mosip: %s: %w: %s %s", name, adapters.ErrPermanent, errs[0].ErrorCode, truncate(errs[0].Message, 200))
	}
	if wantJSON && !json.Valid(body) {
		return fmt.Errorf("mosip: %s: the answer is not JSON", name)
	}
	return nil
}

// classifyStatus classifies by HTTP status only: 429 and 5xx transient,
// other 4xx permanent, other non-2xx transient.
func classifyStatus(name string, status int, body []byte) error {
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return fmt.Errorf("mosip: %s: HTTP %d%s", name, status, errorSuffix(body))
	case status >= 400:
		return fmt.Errorf("mosip: %s: %w: HTTP %d%s", name, adapters.ErrPermanent, status, errorSuffix(body))
	case status < 200 || status > 299:
		return fmt.Errorf("mosip: %s: unexpected HTTP %d", name, status)
	}
	return nil
}

// do sends one request with the token and reads the answer.
func (a *Adapter) do(ctx context.Context, c call, tok string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, bytes.NewReader(c.body))
	if err != nil {
		return 0, nil, err
	}
	ct := c.ctype
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Cookie", "Authorization="+tok)
	if c.authHeader {
		req.Header.Set("Authorization", tok)
	}
	setCorrelation(req, c.corrID)
	res, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, redact(err, tok)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, body, nil
}

// redact keeps a secret (a token, an API key, a URL carrying one) out of
// an error text.
func redact(err error, tok string) error {
	if tok != "" && strings.Contains(err.Error(), tok) {
		return errors.New(strings.ReplaceAll(err.Error(), tok, "<redacted>"))
	}
	return err
}
