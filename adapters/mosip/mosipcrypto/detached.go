package mosipcrypto

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	jwxcert "github.com/lestrrat-go/jwx/v2/cert"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/crvshub/crvshub/adapters/keyfile"
)

// SignDetached returns the IDA "Signature" header value: a detached RS256
// JWS "<protected>..<signature>" over payload whose protected header is
// {alg:"RS256", x5c:[base64url(PEM text of cert)]} (research §3c: PEM text,
// not DER, as the OpenCRVS IDA client sends it).
func SignDetached(priv *rsa.PrivateKey, cert *x509.Certificate, payload []byte) (string, error) {
	if priv == nil || cert == nil {
		return "", errors.New("mosipcrypto: nil signing key or certificate")
	}
	hdr := jws.NewHeaders()
	var x5c jwxcert.Chain
	if err := x5c.AddString(base64.URLEncoding.EncodeToString(keyfile.EncodeCertificate(cert))); err != nil {
		return "", fmt.Errorf("mosipcrypto: x5c: %w", err)
	}
	if err := hdr.Set(jws.X509CertChainKey, &x5c); err != nil {
		return "", fmt.Errorf("mosipcrypto: JWS header x5c: %w", err)
	}
	sig, err := jws.Sign(nil, jws.WithKey(jwa.RS256, priv, jws.WithProtectedHeaders(hdr)), jws.WithDetachedPayload(payload))
	if err != nil {
		return "", fmt.Errorf("mosipcrypto: sign: %w", err)
	}
	return string(sig), nil
}

// VerifyDetached verifies sig (as made by SignDetached) over payload with the
// certificate carried in its x5c header and returns that certificate. It does
// not decide whether the certificate is trusted: the caller must.
func VerifyDetached(sig string, payload []byte) (*x509.Certificate, error) {
	parts := strings.Split(strings.TrimSpace(sig), ".")
	if len(parts) != 3 || parts[1] != "" {
		return nil, fmt.Errorf("%w: signature is not a detached compact JWS", ErrMalformed)
	}
	raw, err := DecodeBase64(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: signature header: %w", ErrMalformed, err)
	}
	var h struct {
		Alg string   `json:"alg"`
		X5c []string `json:"x5c"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("%w: signature header JSON: %w", ErrMalformed, err)
	}
	if h.Alg != string(jwa.RS256) {
		return nil, fmt.Errorf("%w: signature alg %q, want RS256", ErrMalformed, h.Alg)
	}
	if len(h.X5c) == 0 {
		return nil, fmt.Errorf("%w: signature header has no x5c", ErrMalformed)
	}
	cert, err := parseX5C(h.X5c[0])
	if err != nil {
		return nil, err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: x5c certificate key is %T, not RSA", ErrMalformed, cert.PublicKey)
	}
	if _, err := jws.Verify([]byte(strings.TrimSpace(sig)), jws.WithKey(jwa.RS256, pub), jws.WithDetachedPayload(payload)); err != nil {
		return nil, fmt.Errorf("mosipcrypto: signature: %w", err)
	}
	return cert, nil
}

// parseX5C accepts the x5c entry as base64 (either alphabet) of PEM text or,
// as RFC 7515 specifies, standard base64 of DER.
func parseX5C(s string) (*x509.Certificate, error) {
	b, err := DecodeBase64(s)
	if err != nil {
		return nil, fmt.Errorf("%w: x5c base64: %w", ErrMalformed, err)
	}
	if strings.Contains(string(b), "-----BEGIN") {
		c, err := keyfile.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c: %w", ErrMalformed, err)
		}
		return c, nil
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("%w: x5c DER: %w", ErrMalformed, err)
	}
	return c, nil
}
