package mosipcrypto

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/adapters/keyfile"
)

func TestSignDetached(t *testing.T) {
	k := testKeys(t)
	body := []byte(`{"id":"mosip.identity.auth","individualId":"1234567890"}`)
	sig, err := SignDetached(k[0].key, k[0].cert, body)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("%q is not <hdr>..<sig>", sig)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct {
		Alg string   `json:"alg"`
		X5c []string `json:"x5c"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	pemText, err := base64.URLEncoding.DecodeString(h.X5c[0])
	if h.Alg != "RS256" || len(h.X5c) != 1 || err != nil || string(pemText) != string(keyfile.EncodeCertificate(k[0].cert)) {
		t.Fatalf("header %s: x5c must be base64url of the PEM text (%v)", hb, err)
	}
	// Independent check: RS256 over hdr + "." + base64url(payload).
	s, _ := base64.RawURLEncoding.DecodeString(parts[2])
	d := sha256.Sum256([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(body)))
	if err := rsa.VerifyPKCS1v15(&k[0].key.PublicKey, crypto.SHA256, d[:], s); err != nil {
		t.Fatalf("not RS256 over the standard signing input: %v", err)
	}
	cert, err := VerifyDetached(sig, body)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Equal(k[0].cert) {
		t.Fatal("returned a different certificate")
	}
}

func TestVerifyDetachedRejects(t *testing.T) {
	k := testKeys(t)
	body := []byte(`{"a":1}`)
	sig, err := SignDetached(k[0].key, k[0].cert, body)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(sig, ".")
	hdr := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	// mallory signs with her key but claims alice's certificate
	mSig, _ := SignDetached(k[2].key, k[2].cert, body)
	mParts := strings.Split(mSig, ".")
	aliceX5c := hdr(map[string]any{"alg": "RS256", "x5c": []string{base64.URLEncoding.EncodeToString(keyfile.EncodeCertificate(k[0].cert))}})
	cases := map[string]struct {
		sig  string
		body []byte
	}{
		"payload changed":        {sig, []byte(`{"a":2}`)},
		"signature flipped":      {parts[0] + ".." + strings.Replace(parts[2], parts[2][:1], map[bool]string{true: "B", false: "A"}[parts[2][0] == 'A'], 1), body},
		"cert swapped in header": {aliceX5c + ".." + mParts[2], body},
		"alg none":               {hdr(map[string]any{"alg": "none", "x5c": []string{"x"}}) + "..", body},
		"alg HS256":              {hdr(map[string]any{"alg": "HS256"}) + ".." + parts[2], body},
		"no x5c":                 {hdr(map[string]any{"alg": "RS256"}) + ".." + parts[2], body},
		"x5c garbage":            {hdr(map[string]any{"alg": "RS256", "x5c": []string{"@@@"}}) + ".." + parts[2], body},
		"x5c not a cert":         {hdr(map[string]any{"alg": "RS256", "x5c": []string{"AAAA"}}) + ".." + parts[2], body},
		"attached payload":       {parts[0] + ".eyJhIjoxfQ." + parts[2], body},
		"two parts":              {parts[0] + "." + parts[2], body},
		"empty":                  {"", body},
		"header not base64":      {"***.." + parts[2], body},
		"header not JSON":        {base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".." + parts[2], body},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if cert, err := VerifyDetached(c.sig, c.body); err == nil {
				t.Fatalf("accepted, cert %v", cert.Subject)
			}
		})
	}
	if _, err := SignDetached(nil, k[0].cert, body); err == nil {
		t.Fatal("nil key accepted")
	}
}
