package mosipmock

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"testing"

	"github.com/crvshub/crvshub/adapters/mosip/mosipcrypto"
)

// idaCall builds an IDA request the way the OpenCRVS IDA client does and
// returns the answer's authStatus and first error code/message.
type idaAns struct {
	status          int
	authStatus      bool
	authToken       any
	code, message   string
	transactionEcho string
}

func idaCall(t *testing.T, m *Mock, nid string, demo map[string]any, signKey *rsa.PrivateKey, signCert *x509.Certificate, mutate func(body map[string]any)) idaAns {
	t.Helper()
	authData := jsonBody(t, map[string]any{"biometrics": []any{}, "demographics": demo, "otp": "", "timestamp": "2026-11-27T06:00:00.000Z"})
	enc, err := mosipcrypto.EncryptIDARequest(m.Cert(), authData)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{
		"id": "mosip.identity.auth", "version": "1.0", "individualId": nid, "individualIdType": "UIN",
		"transactionID": "1234567890", "requestTime": "2026-11-27T06:00:00.000Z", "specVersion": "1.0",
		"thumbprint": enc.Thumbprint, "domainUri": m.URL(), "env": "Staging",
		"requestedAuth": map[string]bool{"demo": true}, "consentObtained": true,
		"request": enc.Request, "requestSessionKey": enc.RequestSessionKey, "requestHMAC": enc.RequestHMAC,
	}
	if mutate != nil {
		mutate(body)
	}
	raw := jsonBody(t, body)
	sig, err := mosipcrypto.SignDetached(signKey, signCert, raw)
	if err != nil {
		t.Fatal(err)
	}
	st, b, _ := call(t, "POST", m.URL()+"/idauthentication/v1/auth/misp-lk/partner-1/api-key", "", "application/json", raw,
		"Signature", sig, "Authorization", "Authorization")
	var ans struct {
		TransactionID string `json:"transactionID"`
		Response      struct {
			AuthStatus bool `json:"authStatus"`
			AuthToken  any  `json:"authToken"`
		} `json:"response"`
		Errors []struct{ ErrorCode, ErrorMessage string } `json:"errors"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Fatalf("IDA answer %d %s", st, b)
	}
	a := idaAns{status: st, authStatus: ans.Response.AuthStatus, authToken: ans.Response.AuthToken, transactionEcho: ans.TransactionID}
	if len(ans.Errors) > 0 {
		a.code, a.message = ans.Errors[0].ErrorCode, ans.Errors[0].ErrorMessage
	}
	return a
}

func name(v string) []map[string]string { return []map[string]string{{"language": "eng", "value": v}} }

func TestIDAAuth(t *testing.T) {
	m := startMock(t, Profile{})
	charles := map[string]any{"name": name("Charles Doe 2nd"), "dob": "2008/02/29", "gender": name("Male")}
	cases := []struct {
		name     string
		nid      string
		demo     map[string]any
		signKey  *rsa.PrivateKey
		signCert *x509.Certificate
		mutate   func(map[string]any)
		ok       bool
		code     string
		message  string
	}{
		{"match", "1234567890", charles, hubKeys.key, hubKeys.cert, nil, true, "", ""},
		{"match with middle name, other case", "1234567890", map[string]any{"name": name("charles  DIKKENS doe 2nd")}, hubKeys.key, hubKeys.cert, nil, true, "", ""},
		{"dob only", "1234567891", map[string]any{"dob": "2002/02/01"}, hubKeys.key, hubKeys.cert, nil, true, "", ""},
		{"unknown NID", "9999999999", charles, hubKeys.key, hubKeys.cert, nil, false, "IDA-MLC-002", "Invalid UIN"},
		{"name mismatch", "1234567890", map[string]any{"name": name("Charles Dickens")}, hubKeys.key, hubKeys.cert, nil, false, "IDA-DEA-001", "Demographic data name in eng did not match"},
		{"dob mismatch", "1234567890", map[string]any{"name": name("Charles Doe 2nd"), "dob": "2008/03/01"}, hubKeys.key, hubKeys.cert, nil, false, "IDA-DEA-001", "Demographic data dob did not match"},
		{"gender mismatch", "1234567890", map[string]any{"gender": name("Female")}, hubKeys.key, hubKeys.cert, nil, false, "IDA-DEA-001", "Demographic data gender in eng did not match"},
		{"no demographics", "1234567890", map[string]any{}, hubKeys.key, hubKeys.cert, nil, false, "IDA-MLC-006", ""},
		{"signed by another cert", "1234567890", charles, otherKeys.key, otherKeys.cert, nil, false, "IDA-MPA-001", ""},
		{"signed by another key claiming the partner cert", "1234567890", charles, otherKeys.key, hubKeys.cert, nil, false, "IDA-MPA-001", ""},
		{"wrong thumbprint", "1234567890", charles, hubKeys.key, hubKeys.cert, func(b map[string]any) { b["thumbprint"] = "AAAA" }, false, "IDA-MLC-009", "Invalid Input parameter - thumbprint"},
		{"request swapped", "1234567890", charles, hubKeys.key, hubKeys.cert, func(b map[string]any) { b["request"] = b["requestHMAC"] }, false, "IDA-MLC-009", "Invalid Input parameter - request"},
		{"missing requestHMAC", "1234567890", charles, hubKeys.key, hubKeys.cert, func(b map[string]any) { delete(b, "requestHMAC") }, false, "IDA-MLC-006", "Missing Input parameter - requestHMAC"},
		{"bad id type", "1234567890", charles, hubKeys.key, hubKeys.cert, func(b map[string]any) { b["individualIdType"] = "NID" }, false, "IDA-MLC-009", ""},
		{"bad transaction id", "1234567890", charles, hubKeys.key, hubKeys.cert, func(b map[string]any) { b["transactionID"] = "12" }, false, "IDA-MLC-009", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := idaCall(t, m, c.nid, c.demo, c.signKey, c.signCert, c.mutate)
			if a.status != 200 || a.authStatus != c.ok || a.code != c.code || (c.message != "" && a.message != c.message) {
				t.Fatalf("got %+v, want ok=%v %s %q", a, c.ok, c.code, c.message)
			}
			if c.ok && a.authToken == nil {
				t.Fatal("no authToken on success")
			}
		})
	}
	if s := m.Stats(); s.IDACalls != len(cases) {
		t.Fatalf("IDACalls %d", s.IDACalls)
	}
}

func TestIDAUnsignedOrTampered(t *testing.T) {
	m := startMock(t, Profile{})
	for name, hdr := range map[string][]string{"no Signature": nil, "garbage Signature": {"Signature", "x..y"}} {
		st, b, _ := call(t, "POST", m.URL()+"/idauthentication/v1/auth/a/b/c", "", "application/json", []byte(`{"id":"mosip.identity.auth"}`), hdr...)
		if st != 200 || !containsCode(b, "IDA-MPA-001") {
			t.Fatalf("%s: %d %s", name, st, b)
		}
	}
	// a body changed after signing
	raw := []byte(`{"id":"mosip.identity.auth","individualId":"1234567890"}`)
	sig, _ := mosipcrypto.SignDetached(hubKeys.key, hubKeys.cert, raw)
	_, b, _ := call(t, "POST", m.URL()+"/idauthentication/v1/auth/a/b/c", "", "application/json", []byte(`{"id":"mosip.identity.auth","individualId":"1234567891"}`), "Signature", sig)
	if !containsCode(b, "IDA-MPA-001") {
		t.Fatalf("tampered body: %s", b)
	}
}

func containsCode(b []byte, code string) bool {
	var ans struct {
		Errors []struct{ ErrorCode string } `json:"errors"`
	}
	return json.Unmarshal(b, &ans) == nil && len(ans.Errors) > 0 && ans.Errors[0].ErrorCode == code
}
