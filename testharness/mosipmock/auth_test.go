package mosipmock

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAuthenticate(t *testing.T) {
	m := startMock(t, Profile{})
	u := m.URL() + "/v1/authmanager/authenticate/clientidsecretkey"
	cases := []struct {
		name     string
		body     []byte
		status   int
		code     string
		wantAuth bool
	}{
		{"valid", jsonBody(t, authBody(testClient, testSecret)), 200, "", true},
		{"wrong secret", jsonBody(t, authBody(testClient, "nope")), 401, "KER-ATH-401", false},
		{"unknown client", jsonBody(t, authBody("someone", testSecret)), 401, "KER-ATH-401", false},
		{"missing appId", []byte(`{"id":"string","request":{"clientId":"crvshub-client","secretKey":"s3cret"}}`), 400, "KER-ATH-400", false},
		{"no request", []byte(`{"id":"string"}`), 400, "KER-ATH-400", false},
		{"not JSON", []byte(`clientId=x`), 400, "KER-ATH-400", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, b, h := call(t, "POST", u, "", "application/json", c.body)
			if st != c.status || errorCode(b) != c.code {
				t.Fatalf("got %d %s, want %d %s", st, b, c.status, c.code)
			}
			cookies := (&http.Response{Header: h}).Cookies()
			if c.wantAuth != (len(cookies) == 1 && cookies[0].Name == "Authorization") {
				t.Fatalf("cookies %v", cookies)
			}
			if !c.wantAuth {
				return
			}
			var ok struct {
				Response struct{ Status string } `json:"response"`
			}
			if json.Unmarshal(b, &ok); ok.Response.Status != "Success" {
				t.Fatalf("body %s", b)
			}
			parts := strings.Split(cookies[0].Value, ".")
			claims, err := base64.RawURLEncoding.DecodeString(parts[1])
			var cl struct{ Exp int64 }
			if len(parts) != 3 || err != nil || json.Unmarshal(claims, &cl) != nil || cl.Exp < time.Now().Add(50*time.Minute).Unix() {
				t.Fatalf("token is not a JWT with exp about 1 h ahead: %q", cookies[0].Value)
			}
		})
	}
	if s := m.Stats(); s.AuthCalls != len(cases) {
		t.Fatalf("AuthCalls %d, want %d", s.AuthCalls, len(cases))
	}
}

func TestAuthenticateAnyClientWhenNoneConfigured(t *testing.T) {
	keys(t)
	m, err := New(Config{PartnerCert: hubKeys.cert, Key: mockKeys.key, Cert: mockKeys.cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, b, _ := call(t, "POST", m.URL()+"/v1/authmanager/authenticate/clientidsecretkey", "", "application/json", jsonBody(t, authBody("any", "thing")))
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
}

func TestTokenRequired(t *testing.T) {
	keys(t)
	m, err := New(Config{PartnerCert: hubKeys.cert, Key: mockKeys.key, Cert: mockKeys.cert, TokenTTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	short := login(t, m)
	endpoints := []struct{ method, path, ctype string }{
		{"PUT", "/commons/v1/packetmanager/createPacket", "application/json"},
		{"POST", "/registrationprocessor/v1/workflowmanager/workflowinstance", "application/json"},
		{"POST", "/websub/hub", "application/x-www-form-urlencoded"},
	}
	for _, e := range endpoints {
		for name, tok := range map[string]string{"no cookie": "", "unknown token": "forged.token.value"} {
			st, b, _ := call(t, e.method, m.URL()+e.path, tok, e.ctype, []byte("{}"))
			if st != 401 || !strings.HasPrefix(errorCode(b), "KER-ATH-40") {
				t.Errorf("%s %s: %d %s", e.path, name, st, b)
			}
		}
	}
	// a valid token passes the auth check (then fails validation with 400)
	if st, b, _ := call(t, "PUT", m.URL()+endpoints[0].path, short, "application/json", []byte("{}")); st != 400 {
		t.Fatalf("valid token: %d %s", st, b)
	}
	time.Sleep(350 * time.Millisecond)
	if st, b, _ := call(t, "PUT", m.URL()+endpoints[0].path, short, "application/json", []byte("{}")); st != 401 || errorCode(b) != "KER-ATH-402" {
		t.Fatalf("expired token: %d %s", st, b)
	}
	if s := m.Stats(); s.CreatePacketCalls != 1 {
		t.Fatalf("CreatePacketCalls %d: refused calls must not reach the handler", s.CreatePacketCalls)
	}
}

func TestNewValidates(t *testing.T) {
	keys(t)
	if _, err := New(Config{}); err == nil {
		t.Fatal("no partner cert accepted")
	}
	if _, err := New(Config{PartnerCert: hubKeys.cert, Key: mockKeys.key, Cert: otherKeys.cert}); err == nil {
		t.Fatal("mismatched key and cert accepted")
	}
	m, err := New(Config{PartnerCert: hubKeys.cert, Key: mockKeys.key, Cert: mockKeys.cert})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ids) != 110 || m.ids["1234567890"].FamilyName != "Doe 2nd" || m.cfg.Topic != "CREDENTIAL_ISSUED" {
		t.Fatalf("defaults: %d identities, topic %q", len(m.ids), m.cfg.Topic)
	}
}
