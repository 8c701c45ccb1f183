package mosipmock

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
)

// authRequest is the authmanager clientidsecretkey body.
type authRequest struct {
	ID          string `json:"id"`
	Version     string `json:"version"`
	RequestTime string `json:"requesttime"`
	Request     *struct {
		ClientID  string `json:"clientId"`
		SecretKey string `json:"secretKey"`
		AppID     string `json:"appId"`
	} `json:"request"`
}

// authenticate is POST /v1/authmanager/authenticate/clientidsecretkey: a
// valid client gets a JWT-shaped token with exp in the Authorization cookie.
func (m *Mock) authenticate(w http.ResponseWriter, r *http.Request) {
	m.count(func(s *Stats) { s.AuthCalls++ })
	m.latency(r)
	var req authRequest
	if _, err := readJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "", "KER-ATH-400", "Invalid request: "+err.Error())
		return
	}
	if req.Request == nil || req.Request.ClientID == "" || req.Request.SecretKey == "" || req.Request.AppID == "" {
		writeError(w, http.StatusBadRequest, req.ID, "KER-ATH-400", "request.clientId, request.secretKey and request.appId are required")
		return
	}
	if len(m.cfg.Clients) > 0 {
		want, ok := m.cfg.Clients[req.Request.ClientID]
		if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(req.Request.SecretKey)) != 1 {
			m.log.Warn("mosip mock: authentication refused", "clientId", req.Request.ClientID)
			writeError(w, http.StatusUnauthorized, req.ID, "KER-ATH-401", "Authentication Failed: invalid client id or secret key")
			return
		}
	}
	tok, exp := m.issueToken(req.Request.ClientID)
	http.SetCookie(w, &http.Cookie{Name: "Authorization", Value: tok, Path: "/", MaxAge: int(time.Until(exp).Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]any{
		"id": req.ID, "version": req.Version, "responsetime": responseTime(), "metadata": nil,
		"response": map[string]string{"status": "Success", "message": "Clientid and Token combination had been validated successfully"},
		"errors":   nil,
	})
}

// issueToken makes and remembers a random HS256 JWT for clientID.
func (m *Mock) issueToken(clientID string) (string, time.Time) {
	now := time.Now()
	exp := now.Add(m.cfg.TokenTTL)
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{"sub": clientID, "iat": now.Unix(), "exp": exp.Unix(), "jti": newUUID()})
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	tok := input + "." + enc.EncodeToString(mac.Sum(nil))
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, e := range m.tokens { // forget expired tokens
		if now.After(e) {
			delete(m.tokens, t)
		}
	}
	m.tokens[tok] = exp
	return tok, exp
}

// requireToken answers 401 with a MOSIP error unless the request carries
// the cookie Authorization=<valid token>.
func (m *Mock) requireToken(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie("Authorization")
		if err != nil || ck.Value == "" {
			writeError(w, http.StatusUnauthorized, "", "KER-ATH-401", "Authentication Failed: no Authorization cookie")
			return
		}
		m.mu.Lock()
		exp, ok := m.tokens[ck.Value]
		m.mu.Unlock()
		switch {
		case !ok:
			writeError(w, http.StatusUnauthorized, "", "KER-ATH-401", "Authentication Failed: invalid token")
		case time.Now().After(exp):
			writeError(w, http.StatusUnauthorized, "", "KER-ATH-402", "Authentication Failed: token expired")
		default:
			next(w, r)
		}
	}
}

// count updates the stats under the lock.
func (m *Mock) count(f func(*Stats)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(&m.stats)
}
