package mosip

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// tokenSource gets and caches an authmanager token for one client.
type tokenSource struct {
	a      *Adapter
	client Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

// tokenFallbackTTL is how long a token that is not a JWT is cached.
const tokenFallbackTTL = 5 * time.Minute

// tokenSkew: a token is renewed this long before its exp.
const tokenSkew = 10 * time.Second

// get returns a valid token, authenticating when none is cached.
func (ts *tokenSource) get(ctx context.Context, corrID string) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && ts.a.cfg.Now().Before(ts.expires) {
		return ts.token, nil
	}
	tok, err := ts.a.authenticate(ctx, ts.client, corrID)
	if err != nil {
		return "", err
	}
	ts.token = tok
	ts.expires = tokenExpiry(tok, ts.a.cfg.Now())
	return tok, nil
}

// invalidate drops tok if it is still the cached token (after a 401).
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == tok {
		ts.token = ""
	}
}

// tokenExpiry is the JWT's exp (read without verifying, less a small
// skew) or now+5 min when the token is not a JWT with an exp.
func tokenExpiry(tok string, now time.Time) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
		if err == nil {
			var claims struct {
				Exp *json.Number `json:"exp"`
			}
			if json.Unmarshal(raw, &claims) == nil && claims.Exp != nil {
				if f, err := claims.Exp.Float64(); err == nil && f > 0 && f < 1e12 {
					exp := time.Unix(int64(f), 0)
					if exp.Sub(now) > 2*tokenSkew {
						return exp.Add(-tokenSkew)
					}
					return exp
				}
			}
		}
	}
	return now.Add(tokenFallbackTTL)
}

// authenticate calls authmanager clientidsecretkey; the token is the
// Authorization cookie of the answer. Every failure is transient: a
// credentials problem is the hub's configuration, not the registration.
func (a *Adapter) authenticate(ctx context.Context, c Client, corrID string) (string, error) {
	body, err := json.Marshal(map[string]any{
		"id": "string", "version": "string", "requesttime": a.requestTime(), "metadata": map[string]any{},
		"request": map[string]string{"clientId": c.ID, "secretKey": c.Secret, "appId": c.AppID},
	})
	if err != nil {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.AuthURL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	setCorrelation(req, corrID)
	res, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return "", fmt.Errorf("authenticate: HTTP %d%s", res.StatusCode, errorSuffix(rb))
	}
	for _, ck := range res.Cookies() {
		if ck.Name == "Authorization" && ck.Value != "" {
			return ck.Value, nil
		}
	}
	return "", fmt.Errorf("authenticate: no Authorization cookie in the answer%s", errorSuffix(rb))
}

// requestTime is MOSIP's requesttime format (UTC, milliseconds, Z).
func (a *Adapter) requestTime() string {
	return a.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z")
}

func setCorrelation(req *http.Request, corrID string) {
	if corrID != "" {
		req.Header.Set("X-Correlation-ID", corrID)
	}
}
