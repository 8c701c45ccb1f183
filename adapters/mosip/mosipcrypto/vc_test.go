package mosipcrypto

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
)

const testMethod = "http://mosip.test/.well-known/public-key.json"

func sampleVC() map[string]any {
	return map[string]any{
		"@context":     []any{"https://www.w3.org/2018/credentials/v1", map[string]any{"sec": "https://w3id.org/security#"}},
		"type":         []any{"VerifiableCredential", "MOSIPVerifiableCredential"},
		"id":           "http://credential.idrepo/credentials/abc",
		"issuer":       "https://mosip.io/issuers/",
		"issuanceDate": "2026-11-27T06:00:00.000Z",
		"credentialSubject": map[string]any{
			"birthCertificateNumber": "BRN-1", "VID": "1234567890",
			"id": "http://credential.idrepo/credentials/10001123", "vcVer": "VC-V1",
		},
	}
}

func allowOnly(method string, pub *rsa.PublicKey) func(string) (*rsa.PublicKey, error) {
	return func(m string) (*rsa.PublicKey, error) {
		if m != method {
			return nil, errors.New("verification method not allowed")
		}
		return pub, nil
	}
}

func signedVCJSON(t *testing.T) ([]byte, map[string]any) {
	t.Helper()
	k := testKeys(t)
	created := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	vc, err := SignCredential(k[0].key, testMethod, sampleVC(), created)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(vc)
	if err != nil {
		t.Fatal(err)
	}
	return b, vc
}

func TestSignCredentialShape(t *testing.T) {
	k := testKeys(t)
	in := sampleVC()
	in["proof"] = "old proof is replaced"
	vc, err := SignCredential(k[0].key, testMethod, in, time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if in["proof"] != "old proof is replaced" {
		t.Fatal("input map modified")
	}
	p := vc["proof"].(map[string]any)
	want := map[string]any{"type": "RsaSignature2018", "created": "2026-11-27T06:00:00Z", "proofPurpose": "assertionMethod", "verificationMethod": testMethod}
	for key, v := range want {
		if p[key] != v {
			t.Errorf("proof.%s = %v, want %v", key, p[key], v)
		}
	}
	parts := strings.Split(p["jws"].(string), ".")
	if len(parts) != 3 || parts[1] != "" {
		t.Fatalf("jws %q is not <hdr>..<sig>", p["jws"])
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "PS256" || h["b64"] != false || h["kid"] != testMethod || len(h["crit"].([]any)) != 1 || h["crit"].([]any)[0] != "b64" {
		t.Fatalf("header %v", h)
	}
	// Independent check of RFC 7797 (b64:false): signing input is
	// ASCII(protected) || '.' || raw JCS payload, PS256 = RSASSA-PSS SHA-256.
	body := sampleVC()
	bj, _ := json.Marshal(body)
	payload, err := jcs.Transform(bj)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(append([]byte(parts[0]+"."), payload...))
	if err := rsa.VerifyPSS(&k[0].key.PublicKey, crypto.SHA256, d[:], sig, nil); err != nil {
		t.Fatalf("signature is not PS256 over hdr.rawJCS: %v", err)
	}
}

func TestVerifyCredential(t *testing.T) {
	k := testKeys(t)
	good, _ := signedVCJSON(t)
	vc, err := VerifyCredential(good, allowOnly(testMethod, &k[0].key.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if vc["credentialSubject"].(map[string]any)["VID"] != "1234567890" || vc["proof"] == nil {
		t.Fatalf("returned %v", vc)
	}
	// Key order / whitespace of the delivered JSON must not matter (JCS).
	var generic map[string]any
	_ = json.Unmarshal(good, &generic)
	pretty, _ := json.MarshalIndent(generic, "", "   ")
	if _, err := VerifyCredential(pretty, allowOnly(testMethod, &k[0].key.PublicKey)); err != nil {
		t.Fatalf("re-serialised VC: %v", err)
	}
}

func TestVerifyCredentialRejects(t *testing.T) {
	k := testKeys(t)
	good, signed := signedVCJSON(t)
	hdrOf := func(h map[string]any) string {
		b, _ := json.Marshal(h)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	sigPart := strings.Split(signed["proof"].(map[string]any)["jws"].(string), ".")[2]
	mutate := func(f func(vc map[string]any)) []byte {
		var vc map[string]any
		_ = json.Unmarshal(good, &vc)
		f(vc)
		b, _ := json.Marshal(vc)
		return b
	}
	proofOf := func(vc map[string]any) map[string]any { return vc["proof"].(map[string]any) }
	cases := []struct {
		name  string
		in    []byte
		keyFn func(string) (*rsa.PublicKey, error)
	}{
		{"subject VID changed", mutate(func(vc map[string]any) { vc["credentialSubject"].(map[string]any)["VID"] = "9999999999" }), nil},
		{"field added", mutate(func(vc map[string]any) { vc["extra"] = true }), nil},
		{"field removed", mutate(func(vc map[string]any) { delete(vc, "issuer") }), nil},
		{"signature flipped", mutate(func(vc map[string]any) {
			p := proofOf(vc)
			s := p["jws"].(string)
			last := s[len(s)-2]
			repl := byte('A')
			if last == 'A' {
				repl = 'B'
			}
			p["jws"] = s[:len(s)-2] + string(repl) + s[len(s)-1:]
		}), nil},
		{"payload attached", mutate(func(vc map[string]any) {
			p := proofOf(vc)
			parts := strings.Split(p["jws"].(string), ".")
			p["jws"] = parts[0] + ".e30." + parts[2]
		}), nil},
		{"proof type", mutate(func(vc map[string]any) { proofOf(vc)["type"] = "Ed25519Signature2018" }), nil},
		{"proof purpose", mutate(func(vc map[string]any) { proofOf(vc)["proofPurpose"] = "authentication" }), nil},
		{"proof created", mutate(func(vc map[string]any) { proofOf(vc)["created"] = "yesterday" }), nil},
		{"method swapped to other allowed", mutate(func(vc map[string]any) { proofOf(vc)["verificationMethod"] = "http://other/key" }),
			func(string) (*rsa.PublicKey, error) { return &k[0].key.PublicKey, nil }},
		{"header alg RS256", mutate(func(vc map[string]any) {
			proofOf(vc)["jws"] = hdrOf(map[string]any{"alg": "RS256", "b64": false, "crit": []string{"b64"}, "kid": testMethod}) + ".." + sigPart
		}), nil},
		{"header b64 true", mutate(func(vc map[string]any) {
			proofOf(vc)["jws"] = hdrOf(map[string]any{"alg": "PS256", "b64": true, "crit": []string{"b64"}, "kid": testMethod}) + ".." + sigPart
		}), nil},
		{"header no crit", mutate(func(vc map[string]any) {
			proofOf(vc)["jws"] = hdrOf(map[string]any{"alg": "PS256", "b64": false, "kid": testMethod}) + ".." + sigPart
		}), nil},
		{"header kid other", mutate(func(vc map[string]any) {
			proofOf(vc)["jws"] = hdrOf(map[string]any{"alg": "PS256", "b64": false, "crit": []string{"b64"}, "kid": "http://x"}) + ".." + sigPart
		}), nil},
		{"header none", mutate(func(vc map[string]any) {
			proofOf(vc)["jws"] = hdrOf(map[string]any{"alg": "none", "b64": false, "crit": []string{"b64"}, "kid": testMethod}) + ".."
		}), nil},
		{"wrong key", good, allowOnly(testMethod, &k[1].key.PublicKey)},
		{"method not allowed", good, allowOnly("http://trusted/key", &k[0].key.PublicKey)},
		{"nil key returned", good, func(string) (*rsa.PublicKey, error) { return nil, nil }},
		{"no proof", mutate(func(vc map[string]any) { delete(vc, "proof") }), nil},
		{"proof not object", mutate(func(vc map[string]any) { vc["proof"] = "x" }), nil},
		{"not JSON", []byte("{"), nil},
		{"JSON null", []byte("null"), nil},
		{"JSON array", []byte("[]"), nil},
		{"empty", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fn := c.keyFn
			if fn == nil {
				fn = allowOnly(testMethod, &k[0].key.PublicKey)
			}
			if vc, err := VerifyCredential(c.in, fn); err == nil {
				t.Fatalf("accepted: %v", vc)
			}
		})
	}
	if _, err := VerifyCredential(good, nil); err == nil {
		t.Fatal("nil keyFor accepted")
	}
}

func TestSignCredentialBadInput(t *testing.T) {
	k := testKeys(t)
	if _, err := SignCredential(nil, testMethod, sampleVC(), time.Now()); err == nil {
		t.Fatal("nil key accepted")
	}
	if _, err := SignCredential(k[0].key, "", sampleVC(), time.Now()); err == nil {
		t.Fatal("empty method accepted")
	}
	if _, err := SignCredential(k[0].key, testMethod, map[string]any{"f": func() {}}, time.Now()); err == nil {
		t.Fatal("unmarshalable VC accepted")
	}
}
