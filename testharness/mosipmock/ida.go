package mosipmock

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/crvshub/crvshub/adapters/keyfile"
	"github.com/crvshub/crvshub/adapters/mosip/mosipcrypto"
)

var txnRe = regexp.MustCompile(`^[0-9]{10}$`)

// idaRequest is the IDA auth request body (research §3c).
type idaRequest struct {
	ID                string `json:"id"`
	Version           string `json:"version"`
	IndividualID      string `json:"individualId"`
	IndividualIDType  string `json:"individualIdType"`
	TransactionID     string `json:"transactionID"`
	RequestTime       string `json:"requestTime"`
	Request           string `json:"request"`
	RequestSessionKey string `json:"requestSessionKey"`
	RequestHMAC       string `json:"requestHMAC"`
	Thumbprint        string `json:"thumbprint"`
}

// langValue is one [{language, value}] entry.
type langValue struct {
	Language string `json:"language"`
	Value    string `json:"value"`
}

// authData is the decrypted IDA request.
type authData struct {
	Demographics *struct {
		DOB    string      `json:"dob"`
		Name   []langValue `json:"name"`
		Gender []langValue `json:"gender"`
	} `json:"demographics"`
	Timestamp string `json:"timestamp"`
}

// idaError is an IDA errors entry.
type idaError struct {
	ErrorCode     string `json:"errorCode"`
	ErrorMessage  string `json:"errorMessage"`
	ActionMessage string `json:"actionMessage"`
}

// ida is POST /idauthentication/v1/auth/{mispLk}/{partnerId}/{apiKey}: it
// checks the Signature header (signed by the partner certificate), the
// thumbprint, decrypts the request and matches the demographics. Every
// outcome is HTTP 200 with response.authStatus, as IDA does.
func (m *Mock) ida(w http.ResponseWriter, r *http.Request) {
	m.count(func(s *Stats) { s.IDACalls++ })
	m.latency(r)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		m.idaAnswer(w, "", false, idaError{"IDA-MLC-009", "Invalid Input Parameter - body", "Please send a JSON body"})
		return
	}
	var req idaRequest
	if err := json.Unmarshal(body, &req); err != nil {
		m.idaAnswer(w, "", false, idaError{"IDA-MLC-009", "Invalid Input Parameter - body is not JSON", "Please send a JSON body"})
		return
	}
	cert, err := mosipcrypto.VerifyDetached(r.Header.Get("Signature"), body)
	if err != nil || !cert.Equal(m.cfg.PartnerCert) {
		m.log.Warn("mosip mock: IDA request signature refused", "error", err)
		m.idaAnswer(w, req.TransactionID, false, idaError{"IDA-MPA-001", "Signature verification failed", "Sign the request with the partner certificate"})
		return
	}
	for _, f := range []struct{ name, v string }{
		{"id", req.ID}, {"individualId", req.IndividualID}, {"individualIdType", req.IndividualIDType},
		{"transactionID", req.TransactionID}, {"requestTime", req.RequestTime}, {"request", req.Request},
		{"requestSessionKey", req.RequestSessionKey}, {"requestHMAC", req.RequestHMAC}, {"thumbprint", req.Thumbprint},
	} {
		if strings.TrimSpace(f.v) == "" {
			m.idaAnswer(w, req.TransactionID, false, idaError{"IDA-MLC-006", "Missing Input parameter - " + f.name, "Please send " + f.name})
			return
		}
	}
	invalid := func(field string) {
		m.idaAnswer(w, req.TransactionID, false, idaError{"IDA-MLC-009", "Invalid Input parameter - " + field, "Please correct " + field})
	}
	tp, err := mosipcrypto.DecodeBase64(req.Thumbprint)
	switch {
	case req.ID != "mosip.identity.auth":
		invalid("id")
		return
	case req.IndividualIDType != "UIN" && req.IndividualIDType != "VID":
		invalid("individualIdType")
		return
	case !txnRe.MatchString(req.TransactionID):
		invalid("transactionID")
		return
	case err != nil || !bytes.Equal(tp, mosipcrypto.Thumbprint(m.cert)):
		invalid("thumbprint")
		return
	}
	if _, err := time.Parse(time.RFC3339, req.RequestTime); err != nil {
		invalid("requestTime")
		return
	}
	plain, err := mosipcrypto.DecryptIDARequest(m.key, mosipcrypto.IDARequest{
		Request: req.Request, RequestSessionKey: req.RequestSessionKey, RequestHMAC: req.RequestHMAC, Thumbprint: req.Thumbprint,
	})
	if err != nil {
		m.log.Warn("mosip mock: IDA request not decrypted", "error", err)
		invalid("request")
		return
	}
	var ad authData
	if err := json.Unmarshal(plain, &ad); err != nil || ad.Demographics == nil {
		invalid("request.demographics")
		return
	}
	id, ok := m.ids[req.IndividualID]
	if !ok {
		m.idaAnswer(w, req.TransactionID, false, idaError{"IDA-MLC-002", "Invalid UIN", "Please retry with the correct UIN"})
		return
	}
	if e := matchDemographics(id, ad); e != nil {
		m.idaAnswer(w, req.TransactionID, false, *e)
		return
	}
	m.idaAnswer(w, req.TransactionID, true)
}

// matchDemographics compares the sent name ("first family" or "first
// middle family", case-insensitive), dob (YYYY/MM/DD) and gender
// (case-insensitive); absent values are not compared, but one is needed.
func matchDemographics(id Identity, ad authData) *idaError {
	d := ad.Demographics
	if len(d.Name) == 0 && d.DOB == "" && len(d.Gender) == 0 {
		return &idaError{"IDA-MLC-006", "Missing Input parameter - demographics", "Please send name, dob or gender"}
	}
	if len(d.Name) > 0 {
		got := norm(d.Name[0].Value)
		if got != norm(id.FirstName+" "+id.FamilyName) && got != norm(id.FirstName+" "+id.MiddleName+" "+id.FamilyName) {
			lang := d.Name[0].Language
			return &idaError{"IDA-DEA-001", "Demographic data name in " + lang + " did not match", "Please re-enter your name in " + lang}
		}
	}
	if d.DOB != "" && d.DOB != strings.ReplaceAll(id.DOB, "-", "/") {
		return &idaError{"IDA-DEA-001", "Demographic data dob did not match", "Please re-enter your dob"}
	}
	if len(d.Gender) > 0 && !strings.EqualFold(strings.TrimSpace(d.Gender[0].Value), id.Gender) {
		lang := d.Gender[0].Language
		return &idaError{"IDA-DEA-001", "Demographic data gender in " + lang + " did not match", "Please re-enter your gender in " + lang}
	}
	return nil
}

func norm(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// idaAnswer writes IDA's HTTP 200 answer.
func (m *Mock) idaAnswer(w http.ResponseWriter, txn string, ok bool, errs ...idaError) {
	var token any
	if ok {
		token = randomDigits(36)
	}
	ans := map[string]any{
		"transactionID": txn, "version": "1.0", "id": "mosip.identity.auth", "responseTime": responseTime(),
		"response": map[string]any{"authStatus": ok, "authToken": token},
	}
	if len(errs) > 0 {
		ans["errors"] = errs
	}
	writeJSON(w, http.StatusOK, ans)
}

// publicKey is GET /.well-known/public-key.json (research §4).
func (m *Mock) publicKey(w http.ResponseWriter, _ *http.Request) {
	pemText, err := keyfile.EncodePublicKey(&m.key.PublicKey)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "MOCK-500", "public key unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@context": "https://w3id.org/security/v2", "type": "RsaVerificationKey2018",
		"id": m.PublicKeyURL(), "controller": m.URL() + "/.well-known/controller.json", "publicKeyPem": string(pemText),
	})
}

// controller is GET /.well-known/controller.json, the issuer document.
func (m *Mock) controller(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"@context": "https://w3id.org/security/v2", "id": m.URL() + "/.well-known/controller.json",
		"assertionMethod": []string{m.PublicKeyURL()},
	})
}
