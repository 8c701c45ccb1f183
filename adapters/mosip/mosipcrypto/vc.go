package mosipcrypto

import (
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gowebpki/jcs"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Proof constants of MOSIP's verifiable credentials (research §1 item 12).
const (
	ProofType    = "RsaSignature2018"
	ProofPurpose = "assertionMethod"
)

// SignCredential returns a copy of vc (any existing "proof" dropped) with an
// RsaSignature2018 proof: a detached PS256 JWS with b64:false over the JCS
// canonical JSON of the VC without "proof".
func SignCredential(priv *rsa.PrivateKey, verificationMethod string, vc map[string]any, created time.Time) (map[string]any, error) {
	if priv == nil {
		return nil, errors.New("mosipcrypto: nil private key")
	}
	if verificationMethod == "" {
		return nil, errors.New("mosipcrypto: empty verificationMethod")
	}
	body := make(map[string]any, len(vc)+1)
	for k, v := range vc {
		if k != "proof" {
			body[k] = v
		}
	}
	payload, err := canonical(body)
	if err != nil {
		return nil, err
	}
	hdr := jws.NewHeaders()
	for k, v := range map[string]any{"b64": false, "crit": []string{"b64"}, jws.KeyIDKey: verificationMethod} {
		if err := hdr.Set(k, v); err != nil {
			return nil, fmt.Errorf("mosipcrypto: JWS header %s: %w", k, err)
		}
	}
	sig, err := jws.Sign(nil, jws.WithKey(jwa.PS256, priv, jws.WithProtectedHeaders(hdr)), jws.WithDetachedPayload(payload))
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: sign credential: %w", err)
	}
	body["proof"] = map[string]any{
		"type":               ProofType,
		"created":            created.UTC().Format(time.RFC3339),
		"proofPurpose":       ProofPurpose,
		"verificationMethod": verificationMethod,
		"jws":                string(sig),
	}
	return body, nil
}

// VerifyCredential parses vcJSON, asks keyFor for the key of
// proof.verificationMethod (keyFor must refuse methods it does not allow),
// checks the proof fields and the JWS header, verifies the detached PS256
// signature over the JCS form of the VC without "proof" and returns the VC.
func VerifyCredential(vcJSON []byte, keyFor func(verificationMethod string) (*rsa.PublicKey, error)) (map[string]any, error) {
	if keyFor == nil {
		return nil, errors.New("mosipcrypto: nil key lookup")
	}
	var vc map[string]any
	if err := json.Unmarshal(vcJSON, &vc); err != nil {
		return nil, fmt.Errorf("%w: credential JSON: %w", ErrMalformed, err)
	}
	if vc == nil {
		return nil, fmt.Errorf("%w: credential is not a JSON object", ErrMalformed)
	}
	proof, ok := vc["proof"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: credential has no proof object", ErrMalformed)
	}
	str := func(k string) string { s, _ := proof[k].(string); return s }
	method, sig := str("verificationMethod"), str("jws")
	switch {
	case str("type") != ProofType:
		return nil, fmt.Errorf("%w: proof.type %q, want %q", ErrMalformed, str("type"), ProofType)
	case str("proofPurpose") != ProofPurpose:
		return nil, fmt.Errorf("%w: proof.proofPurpose %q, want %q", ErrMalformed, str("proofPurpose"), ProofPurpose)
	case method == "":
		return nil, fmt.Errorf("%w: proof.verificationMethod missing", ErrMalformed)
	case sig == "":
		return nil, fmt.Errorf("%w: proof.jws missing", ErrMalformed)
	}
	if _, err := time.Parse(time.RFC3339, str("created")); err != nil {
		return nil, fmt.Errorf("%w: proof.created: %w", ErrMalformed, err)
	}
	if err := checkVCHeader(sig, method); err != nil {
		return nil, err
	}
	pub, err := keyFor(method)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: key for %q: %w", method, err)
	}
	if pub == nil {
		return nil, fmt.Errorf("mosipcrypto: no key for %q", method)
	}
	body := make(map[string]any, len(vc))
	for k, v := range vc {
		if k != "proof" {
			body[k] = v
		}
	}
	payload, err := canonical(body)
	if err != nil {
		return nil, err
	}
	if _, err := jws.Verify([]byte(sig), jws.WithKey(jwa.PS256, pub), jws.WithDetachedPayload(payload)); err != nil {
		return nil, fmt.Errorf("mosipcrypto: credential signature: %w", err)
	}
	return vc, nil
}

// checkVCHeader requires a detached compact JWS whose protected header is
// exactly alg PS256, b64 false, crit ["b64"], kid = method.
func checkVCHeader(sig, method string) error {
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" {
		return fmt.Errorf("%w: proof.jws is not a detached compact JWS", ErrMalformed)
	}
	raw, err := DecodeBase64(parts[0])
	if err != nil {
		return fmt.Errorf("%w: proof.jws header: %w", ErrMalformed, err)
	}
	var h struct {
		Alg  string   `json:"alg"`
		B64  *bool    `json:"b64"`
		Crit []string `json:"crit"`
		Kid  string   `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("%w: proof.jws header JSON: %w", ErrMalformed, err)
	}
	switch {
	case h.Alg != string(jwa.PS256):
		return fmt.Errorf("%w: proof.jws alg %q, want PS256", ErrMalformed, h.Alg)
	case h.B64 == nil || *h.B64:
		return fmt.Errorf("%w: proof.jws header must have b64:false", ErrMalformed)
	case len(h.Crit) != 1 || h.Crit[0] != "b64":
		return fmt.Errorf("%w: proof.jws crit %v, want [b64]", ErrMalformed, h.Crit)
	case h.Kid != method:
		return fmt.Errorf("%w: proof.jws kid %q differs from verificationMethod %q", ErrMalformed, h.Kid, method)
	}
	return nil
}

func canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: marshal credential: %w", err)
	}
	c, err := jcs.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("mosipcrypto: canonicalise credential: %w", err)
	}
	return c, nil
}
