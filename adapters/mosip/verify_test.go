package mosip

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/adapters/mosip/mosipcrypto"
	"github.com/crvshub/crvshub/core"
)

// idaKeys: IDA's partner key/cert and the hub's signing key/cert.
type idaKeys struct {
	idaKey    *rsa.PrivateKey
	idaCert   *x509.Certificate
	signKey   *rsa.PrivateKey
	signCert  *x509.Certificate
	otherKey  *rsa.PrivateKey
	otherCert *x509.Certificate
}

var testIDAKeys = sync.OnceValue(func() idaKeys {
	var k idaKeys
	var err error
	if k.idaKey, k.idaCert, err = mosipcrypto.NewSelfSigned("ida-partner", 2048); err != nil {
		panic(err)
	}
	if k.signKey, k.signCert, err = mosipcrypto.NewSelfSigned("crvshub-ida-signer", 2048); err != nil {
		panic(err)
	}
	if k.otherKey, k.otherCert, err = mosipcrypto.NewSelfSigned("someone-else", 2048); err != nil {
		panic(err)
	}
	return k
})

// identity is one of the fake IDA's identities (from the OpenCRVS mock
// identities, /work/shared/fixtures/mosip/mock-identities.json).
type identity struct{ name, dob, gender string }

var idaIdentities = map[string]identity{
	"1234567890": {"Charles Dikkens", "2008/02/29", "Male"},
}

// fakeIDA checks what IDA checks: the path's partner values, the detached
// signature over the body with the hub's certificate, the thumbprint, the
// decryption of request/requestHMAC with IDA's key; then it matches the
// demographics like the OpenCRVS mock (IDA-MLC-002, IDA-DEA-001).
type fakeIDA struct {
	t       *testing.T
	keys    idaKeys
	status  int // when set, answered instead
	mu      sync.Mutex
	bodies  []map[string]any
	demos   []map[string]any
	corrIDs []string
	refusal string
}

func (f *fakeIDA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(code, msg string) {
		f.mu.Lock()
		f.refusal = code + " " + msg
		f.mu.Unlock()
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"errors":[{"errorCode":%q,"errorMessage":%q}]}`, code, msg)
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, `{"errors":[{"errorCode":"IDA-MLC-500","errorMessage":"down"}]}`)
		return
	}
	if r.URL.Path != "/idauthentication/v1/auth/misp-lk/crvshub-partner/api-key-1" {
		fail("IDA-MPA-001", "bad path "+r.URL.Path)
		return
	}
	body, _ := io.ReadAll(r.Body)
	cert, err := mosipcrypto.VerifyDetached(r.Header.Get("Signature"), body)
	if err != nil || !cert.Equal(f.keys.signCert) {
		fail("IDA-MPA-002", fmt.Sprintf("signature: %v", err))
		return
	}
	if r.Header.Get("Authorization") != "Authorization" {
		fail("IDA-MPA-003", "authorization header")
		return
	}
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		fail("IDA-MLC-006", "json")
		return
	}
	str := func(k string) string { s, _ := req[k].(string); return s }
	plain, err := mosipcrypto.DecryptIDARequest(f.keys.idaKey, mosipcrypto.IDARequest{
		Request: str("request"), RequestSessionKey: str("requestSessionKey"), RequestHMAC: str("requestHMAC"), Thumbprint: str("thumbprint"),
	})
	if err != nil {
		fail("IDA-MLC-007", fmt.Sprintf("decrypt: %v", err))
		return
	}
	var auth struct {
		Demographics map[string]any `json:"demographics"`
	}
	if err := json.Unmarshal(plain, &auth); err != nil {
		fail("IDA-MLC-006", "auth data")
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, req)
	f.corrIDs = append(f.corrIDs, r.Header.Get("X-Correlation-ID"))
	f.demos = append(f.demos, auth.Demographics)
	f.mu.Unlock()
	answer := func(ok bool, errs ...[2]string) {
		out := map[string]any{"id": "mosip.identity.auth", "version": "1.0", "transactionID": req["transactionID"],
			"response": map[string]any{"authStatus": ok, "authToken": nil}}
		var list []map[string]string
		for _, e := range errs {
			list = append(list, map[string]string{"errorCode": e[0], "errorMessage": e[1], "actionMessage": ""})
		}
		if list != nil {
			out["errors"] = list
		}
		_ = json.NewEncoder(w).Encode(out)
	}
	id, ok := idaIdentities[str("individualId")]
	if !ok {
		answer(false, [2]string{"IDA-MLC-002", "Invalid UIN"})
		return
	}
	var errs [][2]string
	lang := func(k string) string {
		l, _ := auth.Demographics[k].([]any)
		if len(l) == 0 {
			return ""
		}
		m, _ := l[0].(map[string]any)
		v, _ := m["value"].(string)
		return v
	}
	if !strings.EqualFold(lang("name"), id.name) {
		errs = append(errs, [2]string{"IDA-DEA-001", "Demographic data name in eng did not match"})
	}
	if dob, _ := auth.Demographics["dob"].(string); dob != id.dob {
		errs = append(errs, [2]string{"IDA-DEA-001", "Demographic data dob did not match"})
	}
	if g := lang("gender"); g != "" && g != id.gender {
		errs = append(errs, [2]string{"IDA-DEA-001", "Demographic data gender in eng did not match"})
	}
	answer(len(errs) == 0, errs...)
}

func newIDAAdapter(t *testing.T, signCert *x509.Certificate) (*Adapter, *fakeIDA) {
	keys := testIDAKeys()
	ida := &fakeIDA{t: t, keys: keys}
	srv := httptest.NewServer(ida)
	t.Cleanup(srv.Close)
	cfg := baseConfig(newFakeMOSIP(t))
	cfg.IDAAuthURL = srv.URL + "/idauthentication/v1/auth"
	cfg.MispLK, cfg.PartnerID, cfg.APIKey, cfg.DomainURI = "misp-lk", "crvshub-partner", "api-key-1", "https://crvshub.example"
	cfg.IDACert, cfg.SignKey, cfg.SignCert = keys.idaCert, keys.signKey, signCert
	a, _, _ := newAdapter(t, cfg)
	return a, ida
}

func TestVerify(t *testing.T) {
	charles := adapters.IdentityClaim{NID: "1234567890", FirstName: "Charles", MiddleName: "Doe 2nd", Surname: "Dikkens", BirthDate: "2008-02-29", Gender: "male"}
	with := func(f func(*adapters.IdentityClaim)) adapters.IdentityClaim { c := charles; f(&c); return c }
	cases := []struct {
		name  string
		claim adapters.IdentityClaim
		want  adapters.Verification
	}{
		{"match", charles, adapters.Verification{Verified: true}},
		{"wrong name", with(func(c *adapters.IdentityClaim) { c.Surname = "Dickens" }),
			adapters.Verification{Mismatches: []string{"name"}, Code: "IDA-DEA-001", Message: "Demographic data name in eng did not match"}},
		{"wrong dob and gender", with(func(c *adapters.IdentityClaim) { c.BirthDate = "2008-03-01"; c.Gender = "female" }),
			adapters.Verification{Mismatches: []string{"dob", "gender"}, Code: "IDA-DEA-001", Message: "Demographic data dob did not match"}},
		{"unknown nid", with(func(c *adapters.IdentityClaim) { c.NID = "1111111111" }),
			adapters.Verification{Mismatches: []string{"nid"}, Code: "IDA-MLC-002", Message: "Invalid UIN"}},
	}
	a, ida := newIDAAdapter(t, testIDAKeys().signCert)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := core.WithRequestMeta(context.Background(), core.RequestMeta{CorrelationID: "verify-7"})
			got, err := a.Verify(ctx, tc.claim)
			if err != nil {
				t.Fatalf("Verify: %v (IDA refusal: %s)", err, ida.refusal)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	ida.mu.Lock()
	defer ida.mu.Unlock()
	if len(ida.bodies) == 0 {
		t.Fatal("IDA saw no request")
	}
	b := ida.bodies[0]
	if b["id"] != "mosip.identity.auth" || b["individualIdType"] != "UIN" || b["domainUri"] != "https://crvshub.example" ||
		b["consentObtained"] != true || len(b["transactionID"].(string)) != 10 {
		t.Errorf("request body %v", b)
	}
	if ida.corrIDs[0] != "verify-7" {
		t.Errorf("X-Correlation-ID %q, want the request's", ida.corrIDs[0])
	}
	if d := ida.demos[0]; d["dob"] != "2008/02/29" {
		t.Errorf("demographics %v", d)
	}
}

func TestVerifyErrors(t *testing.T) {
	t.Run("signature by a certificate IDA does not expect", func(t *testing.T) {
		a, _ := newIDAAdapter(t, testIDAKeys().otherCert)
		_, err := a.Verify(context.Background(), adapters.IdentityClaim{NID: "1234567890", FirstName: "Charles", Surname: "Dikkens"})
		if !adapters.IsPermanent(err) || !strings.Contains(err.Error(), "IDA-MPA-002") {
			t.Fatalf("err = %v, want permanent naming IDA-MPA-002", err)
		}
	})
	for _, status := range []int{500, 503, 429} {
		t.Run(fmt.Sprint("IDA ", status), func(t *testing.T) {
			a, ida := newIDAAdapter(t, testIDAKeys().signCert)
			ida.status = status
			_, err := a.Verify(context.Background(), adapters.IdentityClaim{NID: "1234567890"})
			if err == nil || adapters.IsPermanent(err) || !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", status)) {
				t.Fatalf("err = %v, want transient HTTP %d", err, status)
			}
			if strings.Contains(err.Error(), "api-key-1") {
				t.Errorf("error names the API key: %v", err)
			}
		})
	}
	t.Run("bad claims", func(t *testing.T) {
		a, _ := newIDAAdapter(t, testIDAKeys().signCert)
		for _, c := range []adapters.IdentityClaim{{}, {NID: "1", BirthDate: "29/02/2008"}} {
			if _, err := a.Verify(context.Background(), c); !adapters.IsPermanent(err) {
				t.Errorf("%+v: err = %v, want permanent", c, err)
			}
		}
	})
	t.Run("network error hides the API key", func(t *testing.T) {
		a, _ := newIDAAdapter(t, testIDAKeys().signCert)
		a.cfg.IDAAuthURL = "http://127.0.0.1:1/idauthentication/v1/auth"
		_, err := a.Verify(context.Background(), adapters.IdentityClaim{NID: "1234567890"})
		if err == nil || adapters.IsPermanent(err) || strings.Contains(err.Error(), "api-key-1") || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("err = %v, want transient without the API key", err)
		}
	})
}
