package mosip

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/adapters/mosip/mosipcrypto"
	"github.com/crvshub/crvshub/core"
)

// ErrIDANotConfigured: Verify was called but the IDA fields are not set.
var ErrIDANotConfigured = errors.New("mosip: IDA demographic authentication is not configured")

// idaAnswer is IDA's auth response.
type idaAnswer struct {
	Response *struct {
		AuthStatus bool `json:"authStatus"`
	} `json:"response"`
	Errors []struct {
		ErrorCode    string `json:"errorCode"`
		ErrorMessage string `json:"errorMessage"`
	} `json:"errors"`
}

// Verify checks a demographic identity with MOSIP IDA (research §3c):
// the auth data is encrypted to IDACert, the request is signed with
// SignKey/SignCert (header Signature), and IDA's answer becomes a
// Verification (IDA-MLC-002 -> mismatch "nid", IDA-DEA-001 -> "name",
// "dob" or "gender" as its message says). Network errors, 5xx and 429
// are transient errors; other 4xx wrap adapters.ErrPermanent.
func (a *Adapter) Verify(ctx context.Context, c adapters.IdentityClaim) (adapters.Verification, error) {
	if !a.cfg.idaConfigured() {
		return adapters.Verification{}, ErrIDANotConfigured
	}
	nid := strings.TrimSpace(c.NID)
	if nid == "" {
		return adapters.Verification{}, fmt.Errorf("mosip: verify: %w: no NID to verify", adapters.ErrPermanent)
	}
	now := a.cfg.Now().UTC()
	ts := now.Format("2006-01-02T15:04:05.000Z")
	demo := map[string]any{}
	if n := joinNonEmpty(strings.TrimSpace(c.FirstName), strings.TrimSpace(c.Surname)); n != "" {
		demo["name"] = []langValue{{Language: a.cfg.Language, Value: n}}
	}
	if c.BirthDate != "" {
		t, err := time.Parse("2006-01-02", c.BirthDate)
		if err != nil {
			return adapters.Verification{}, fmt.Errorf("mosip: verify: %w: birth date %q is not YYYY-MM-DD", adapters.ErrPermanent, truncate(c.BirthDate, 40))
		}
		demo["dob"] = t.Format("2006/01/02")
	}
	if g := strings.TrimSpace(c.Gender); g != "" {
		demo["gender"] = []langValue{{Language: a.cfg.Language, Value: capitalise(g)}}
	}
	authData, err := json.Marshal(map[string]any{"biometrics": []any{}, "demographics": demo, "otp": "", "timestamp": ts})
	if err != nil {
		return adapters.Verification{}, fmt.Errorf("mosip: verify: %w", err)
	}
	enc, err := mosipcrypto.EncryptIDARequest(a.cfg.IDACert, authData)
	if err != nil {
		return adapters.Verification{}, fmt.Errorf("mosip: verify: encrypt: %w", err)
	}
	idType := "UIN"
	if len(nid) == 16 {
		idType = "VID"
	}
	body, err := json.Marshal(map[string]any{
		"id": "mosip.identity.auth", "version": "1.0", "individualId": nid, "individualIdType": idType,
		"transactionID": randomDigits(10), "requestTime": ts, "specVersion": "1.0",
		"thumbprint": enc.Thumbprint, "domainUri": a.cfg.DomainURI, "env": "Staging",
		"requestedAuth":   map[string]bool{"demo": true, "pin": false, "otp": false, "bio": false},
		"consentObtained": true, "request": enc.Request, "requestSessionKey": enc.RequestSessionKey,
		"requestHMAC": enc.RequestHMAC,
	})
	if err != nil {
		return adapters.Verification{}, fmt.Errorf("mosip: verify: %w", err)
	}
	sig, err := mosipcrypto.SignDetached(a.cfg.SignKey, a.cfg.SignCert, body)
	if err != nil {
		return adapters.Verification{}, fmt.Errorf("mosip: verify: sign: %w", err)
	}
	status, rb, err := a.postIDA(ctx, body, sig, core.RequestMetaFrom(ctx).CorrelationID)
	if err != nil {
		return adapters.Verification{}, fmt.Errorf("mosip: verify: %w", err)
	}
	// IDA answers a mismatch as HTTP 200 with an errors array: only the
	// status decides whether the call failed.
	if err := classifyStatus("IDA auth", status, rb); err != nil {
		return adapters.Verification{}, err
	}
	var ans idaAnswer
	if err := json.Unmarshal(rb, &ans); err != nil {
		return adapters.Verification{}, fmt.Errorf("mosip: verify: IDA answer: %w", err)
	}
	return mapIDA(ans), nil
}

// mapIDA turns IDA's answer into a Verification.
func mapIDA(ans idaAnswer) adapters.Verification {
	v := adapters.Verification{Verified: ans.Response != nil && ans.Response.AuthStatus && len(ans.Errors) == 0}
	seen := map[string]bool{}
	add := func(m string) {
		if !seen[m] {
			seen[m] = true
			v.Mismatches = append(v.Mismatches, m)
		}
	}
	for i, e := range ans.Errors {
		if i == 0 {
			v.Code, v.Message = e.ErrorCode, truncate(e.ErrorMessage, 500)
		}
		switch e.ErrorCode {
		case "IDA-MLC-002":
			add("nid")
		case "IDA-DEA-001":
			msg := " " + strings.ToLower(e.ErrorMessage) + " "
			for _, k := range []struct{ word, name string }{{" name ", "name"}, {" dob ", "dob"}, {" gender ", "gender"}} {
				if strings.Contains(msg, k.word) {
					add(k.name)
				}
			}
		}
	}
	return v
}

// postIDA sends the signed request to {IDAAuthURL}/{MispLK}/{PartnerID}/{APIKey}.
func (a *Adapter) postIDA(ctx context.Context, body []byte, sig, corrID string) (int, []byte, error) {
	u := strings.TrimRight(a.cfg.IDAAuthURL, "/") + "/" + url.PathEscape(a.cfg.MispLK) + "/" +
		url.PathEscape(a.cfg.PartnerID) + "/" + url.PathEscape(a.cfg.APIKey)
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Authorization")
	req.Header.Set("Signature", sig)
	setCorrelation(req, corrID)
	res, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		// the URL carries the API key: keep it out of errors and logs
		return 0, nil, redact(redact(err, u), a.cfg.APIKey)
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	return res.StatusCode, rb, err
}

// randomDigits is n random decimal digits.
func randomDigits(n int) string {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			d = big.NewInt(0)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}
