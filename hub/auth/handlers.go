package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/crvshub/crvshub/core"
)

// MaxTokenRequestBody is the largest token request body read.
const MaxTokenRequestBody = 64 << 10

// GrantClientCredentials is the only grant type the token endpoint serves.
const GrantClientCredentials = "client_credentials"

// OAuth2 error codes (RFC 6749 section 5.2).
const (
	ErrCodeInvalidRequest       = "invalid_request"
	ErrCodeInvalidClient        = "invalid_client"
	ErrCodeUnsupportedGrantType = "unsupported_grant_type"
	ErrCodeServerError          = "server_error"
	ErrCodeUnavailable          = "temporarily_unavailable"
)

// TokenResponse is the body of a successful token request.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// OAuthError is the body of a failed token request.
type OAuthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// tokenParams are the token request parameters.
var tokenParams = []string{"grant_type", "client_id", "client_secret"}

// TokenHandler serves the OAuth2 client_credentials grant, for
// POST /auth/token and its OpenCRVS v1 alias POST /token. grant_type,
// client_id and client_secret are read from a JSON or form-urlencoded body
// first, then from the query string (OpenCRVS v1 clients send them in the
// query with "Content-Type: application/json" and an empty body), then,
// for the credentials, from HTTP Basic authentication (RFC 6749 2.3.1).
// It answers 200 {access_token, token_type "Bearer", expires_in}, or an
// OAuth2 error: 400 invalid_request, 400 unsupported_grant_type, 401
// invalid_client, 413 invalid_request for a body over 64 KiB, 429
// temporarily_unavailable with Retry-After while the client id from this
// address, or this address, is locked out after failed attempts (Clients'
// Throttle). Neither the secret nor the token is logged.
func TokenHandler(clients *Clients, issuer *Issuer) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.Header("Pragma", "no-cache")

		params, status, desc := readTokenParams(c.Writer, c.Request)
		if status != 0 {
			oauthError(c, status, ErrCodeInvalidRequest, desc)
			return
		}
		basicUsed := false
		if params["client_id"] == "" && params["client_secret"] == "" {
			if id, secret, ok := basicAuth(c.Request); ok {
				params["client_id"], params["client_secret"] = id, secret
				basicUsed = true
			}
		}
		switch grant := params["grant_type"]; {
		case grant == "":
			oauthError(c, http.StatusBadRequest, ErrCodeInvalidRequest, "missing grant_type")
			return
		case grant != GrantClientCredentials:
			oauthError(c, http.StatusBadRequest, ErrCodeUnsupportedGrantType, "only the client_credentials grant is supported")
			return
		}
		if params["client_id"] == "" || params["client_secret"] == "" {
			oauthError(c, http.StatusBadRequest, ErrCodeInvalidRequest, "missing client_id or client_secret")
			return
		}

		cl, err := clients.Authenticate(c.Request.Context(), params["client_id"], params["client_secret"])
		var throttled *ThrottledError
		if errors.As(err, &throttled) {
			secs := int64(math.Ceil(throttled.RetryAfter.Seconds()))
			c.Header("Retry-After", strconv.FormatInt(max(secs, 1), 10))
			oauthError(c, http.StatusTooManyRequests, ErrCodeUnavailable,
				"too many failed authentications; retry after "+strconv.FormatInt(max(secs, 1), 10)+" s")
			return
		}
		if err != nil {
			if core.KindOf(err) == core.KindUnauthenticated {
				if basicUsed {
					c.Header("WWW-Authenticate", `Basic realm="crvshub"`)
				}
				oauthError(c, http.StatusUnauthorized, ErrCodeInvalidClient, "invalid client credentials")
				return
			}
			serverError(c, err)
			return
		}
		if !waitPastChange(c.Request.Context(), cl, issuer.now()) {
			c.Abort()
			return
		}
		tok, expiresIn, err := issuer.IssueSystemToken(cl.ID, cl.Scopes)
		if err != nil {
			serverError(c, err)
			return
		}
		c.JSON(http.StatusOK, TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: expiresIn})
	}
}

// readTokenParams reads the parameters from the body, then the query. On
// failure it answers a non-zero status and a description.
func readTokenParams(w http.ResponseWriter, r *http.Request) (map[string]string, int, string) {
	params := map[string]string{}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxTokenRequestBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, "request body too large"
		}
		return nil, http.StatusBadRequest, "request body could not be read"
	}
	if len(bytes.TrimSpace(body)) > 0 {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			// No or unparsable content type: guess from the body.
			mt = "application/x-www-form-urlencoded"
			if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
				mt = "application/json"
			}
		}
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json"):
			var in struct {
				GrantType    *string `json:"grant_type"`
				ClientID     *string `json:"client_id"`
				ClientSecret *string `json:"client_secret"`
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			if err := dec.Decode(&in); err != nil {
				return nil, http.StatusBadRequest, "malformed JSON body: grant_type, client_id and client_secret must be strings"
			}
			// dec.More() misses a stray '}' or ']': only the end of input will do
			if _, err := dec.Token(); !errors.Is(err, io.EOF) {
				return nil, http.StatusBadRequest, "malformed JSON body: trailing data"
			}
			for k, v := range map[string]*string{"grant_type": in.GrantType, "client_id": in.ClientID, "client_secret": in.ClientSecret} {
				if v != nil {
					params[k] = *v
				}
			}
		case mt == "application/x-www-form-urlencoded":
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, http.StatusBadRequest, "malformed form body"
			}
			if p, ok := repeatedParam(form); !ok {
				return nil, http.StatusBadRequest, "parameter " + p + " given more than once"
			}
			for _, k := range tokenParams {
				if v := form.Get(k); v != "" {
					params[k] = v
				}
			}
		default:
			return nil, http.StatusBadRequest, "body must be application/json or application/x-www-form-urlencoded"
		}
	}

	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, http.StatusBadRequest, "malformed query string"
	}
	if p, ok := repeatedParam(query); !ok {
		return nil, http.StatusBadRequest, "parameter " + p + " given more than once"
	}
	for _, k := range tokenParams {
		if params[k] == "" {
			if v := query.Get(k); v != "" {
				params[k] = v
			}
		}
	}
	return params, 0, ""
}

// repeatedParam finds a token parameter given more than once (RFC 6749
// section 3.2: parameters must not be repeated).
func repeatedParam(v url.Values) (string, bool) {
	for _, k := range tokenParams {
		if len(v[k]) > 1 {
			return k, false
		}
	}
	return "", true
}

// basicAuth reads client credentials from HTTP Basic authentication; per
// RFC 6749 2.3.1 both parts are form-urlencoded.
func basicAuth(r *http.Request) (id, secret string, ok bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 6 || !strings.EqualFold(h[:6], "basic ") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[6:]))
	if err != nil {
		return "", "", false
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(p); err != nil {
		return "", "", false
	}
	return id, secret, id != "" && secret != ""
}

func oauthError(c *gin.Context, status int, code, desc string) {
	c.AbortWithStatusJSON(status, OAuthError{Error: code, ErrorDescription: desc})
}

// serverError answers 500 server_error (503 temporarily_unavailable for a
// KindUnavailable error) and records err on the gin context for the
// logging middleware; the error never carries a secret.
func serverError(c *gin.Context, err error) {
	_ = c.Error(err)
	if core.KindOf(err) == core.KindUnavailable {
		oauthError(c, http.StatusServiceUnavailable, ErrCodeUnavailable, "try again later")
		return
	}
	oauthError(c, http.StatusInternalServerError, ErrCodeServerError, "internal error")
}

// WellKnownPEM serves the public key as PEM text, for GET /auth/.well-known
// (OpenCRVS auth GET /.well-known).
func WellKnownPEM(kp *KeyPair) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "text/plain; charset=utf-8", kp.PublicPEM)
	}
}

// JWKS serves the public JSON Web Key Set, for
// GET /auth/.well-known/jwks.json.
func JWKS(kp *KeyPair) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		c.Data(http.StatusOK, "application/json", kp.JWKS)
	}
}

// waitPastChange waits, when now is in the second of the client's last
// change, until that second is over: a token minted in it would be
// refused (Authenticator: iat must come after the change's second). It
// answers false if the client left meanwhile.
func waitPastChange(ctx context.Context, cl *core.Client, now time.Time) bool {
	changed, ok := ChangedSecond(cl)
	if !ok {
		return true
	}
	wait := changed.Add(time.Second).Sub(now)
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
