package mosipmock

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Processes the mock accepts.
const (
	processBirth = "CRVS_NEW"
	processDeath = "CRVS_DEATH"
)

const (
	packetWriterID = "mosip.registration.packet.writer"
	workflowID     = "mosip.registration.processor.workflow.instance"
)

var (
	aidRe   = regexp.MustCompile(`^[0-9]{10,40}$`)
	refIDRe = regexp.MustCompile(`^[^_\s]+_[^_\s]+$`)
	dateRe  = regexp.MustCompile(`^[0-9]{4}/[0-9]{2}/[0-9]{2}$`)
)

// langFields are fields MOSIP's ID schema holds as language arrays.
var langFields = map[string]bool{
	"fullName": true, "firstName": true, "middleName": true, "lastName": true, "gender": true,
	"motherName": true, "fatherName": true, "typeOfDeath": true, "zone": true, "region": true, "province": true,
	"addressLine1": true, "addressLine2": true, "addressLine3": true, "city": true,
}

// dateFields are fields MOSIP wants as YYYY/MM/DD.
var dateFields = map[string]bool{"dateOfBirth": true, "deceasedDeclarationDate": true, "dateOfDeath": true}

// createPacketRequest is the packet writer request.
type createPacketRequest struct {
	ID      string `json:"id"`
	Request *struct {
		ID            string           `json:"id"`
		RefID         string           `json:"refId"`
		OfflineMode   bool             `json:"offlineMode"`
		Process       string           `json:"process"`
		Source        string           `json:"source"`
		SchemaVersion string           `json:"schemaVersion"`
		Fields        map[string]any   `json:"fields"`
		MetaInfo      map[string]any   `json:"metaInfo"`
		Audits        []map[string]any `json:"audits"`
		SchemaJSON    json.RawMessage  `json:"schemaJson"`
	} `json:"request"`
}

// createPacket is PUT /commons/v1/packetmanager/createPacket. A reused
// packet id updates the stored packet (MOSIP: "If the same AID is used
// twice, the record will be updated"): the identity (VID) issued for it
// stays the same, and the packet counts under its latest certificate
// number only.
func (m *Mock) createPacket(w http.ResponseWriter, r *http.Request) {
	m.count(func(s *Stats) { s.CreatePacketCalls++ })
	m.latency(r)
	if m.failRoll() {
		writeError(w, http.StatusInternalServerError, packetWriterID, "KER-PUT-500", "Internal Server Error (mock error rate)")
		return
	}
	var req createPacketRequest
	if _, err := readJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, packetWriterID, "KER-PUT-001", err.Error())
		return
	}
	p, certKey, err := validatePacket(&req)
	if err != nil {
		writeError(w, http.StatusBadRequest, packetWriterID, "KER-PUT-002", err.Error())
		return
	}
	q := req.Request
	m.mu.Lock()
	old, update := m.packets[q.ID]
	if update && old.certKey != certKey {
		// an update under a new certificate number (a correction) moves
		// the packet: it is one registration, counted once
		delete(m.certPackets[old.certKey], q.ID)
		if len(m.certPackets[old.certKey]) == 0 {
			delete(m.certPackets, old.certKey)
		}
	}
	m.packets[q.ID] = p
	if m.stats.PacketsByRegistrationID == nil {
		m.stats.PacketsByRegistrationID = map[string]int{}
	}
	m.stats.PacketsByRegistrationID[q.ID]++
	if m.stats.CorrelationIDs == nil {
		m.stats.CorrelationIDs = map[string]string{}
	}
	m.stats.CorrelationIDs[q.ID] = r.Header.Get("X-Correlation-ID")
	if m.certPackets[certKey] == nil {
		m.certPackets[certKey] = map[string]bool{}
	}
	m.certPackets[certKey][q.ID] = true
	m.mu.Unlock()
	m.log.Info("mosip mock: packet stored", "packetId", q.ID, "process", q.Process, "update", update)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	var packets []map[string]any
	for _, suffix := range []string{"_evidence", "_optional", "_id"} {
		packets = append(packets, map[string]any{
			"id": q.ID, "packetName": q.ID + suffix, "source": q.Source, "process": q.Process, "refId": q.RefID,
			"schemaVersion": q.SchemaVersion, "signature": base64.StdEncoding.EncodeToString([]byte(newUUID())),
			"encryptedHash": base64.StdEncoding.EncodeToString([]byte(newUUID())), "providerName": "PacketWriterImpl",
			"providerVersion": "v1.0", "creationDate": now,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": packetWriterID, "version": "v1", "responsetime": now, "metadata": nil, "response": packets, "errors": []any{},
	})
}

// validatePacket checks a createPacket request and returns the packet and
// the certificate key it counts under.
func validatePacket(req *createPacketRequest) (*packet, string, error) {
	q := req.Request
	switch {
	case q == nil:
		return nil, "", fmt.Errorf("request is required")
	case !aidRe.MatchString(q.ID):
		return nil, "", fmt.Errorf("request.id %q is not a 10 to 40 digit registration id", truncate(q.ID, 60))
	case q.Process != processBirth && q.Process != processDeath:
		return nil, "", fmt.Errorf("request.process %q is not %s or %s", truncate(q.Process, 40), processBirth, processDeath)
	case strings.TrimSpace(q.Source) == "":
		return nil, "", fmt.Errorf("request.source is required")
	case !refIDRe.MatchString(q.RefID):
		return nil, "", fmt.Errorf("request.refId %q is not <centerId>_<machineId>", truncate(q.RefID, 60))
	case strings.TrimSpace(q.SchemaVersion) == "":
		return nil, "", fmt.Errorf("request.schemaVersion is required")
	case len(q.Fields) == 0:
		return nil, "", fmt.Errorf("request.fields is required")
	case q.MetaInfo == nil:
		return nil, "", fmt.Errorf("request.metaInfo is required")
	case !hasPopulatedAudit(q.Audits):
		return nil, "", fmt.Errorf("request.audits needs at least one audit with a populated attribute")
	}
	fields := make(map[string]string, len(q.Fields))
	for k, v := range q.Fields {
		s, ok := v.(string)
		if !ok {
			return nil, "", fmt.Errorf("fields.%s must be a string (MOSIP packet fields are strings, language arrays stringified)", k)
		}
		fields[k] = s
		if s == "" {
			continue
		}
		if langFields[k] || strings.HasPrefix(s, "[") {
			if err := checkLangArray(s); err != nil {
				return nil, "", fmt.Errorf("fields.%s: %w", k, err)
			}
		}
		if dateFields[k] {
			if _, err := time.Parse("2006/01/02", s); err != nil || !dateRe.MatchString(s) {
				return nil, "", fmt.Errorf("fields.%s %q is not a YYYY/MM/DD date", k, truncate(s, 40))
			}
		}
	}
	if fields["fullName"] == "" {
		return nil, "", fmt.Errorf("fields.fullName is required")
	}
	p := &packet{process: q.Process, fields: fields}
	if q.Process == processBirth {
		if fields["birthCertificateNumber"] == "" {
			return nil, "", fmt.Errorf("fields.birthCertificateNumber is required for %s", processBirth)
		}
		if fields["dateOfBirth"] == "" {
			return nil, "", fmt.Errorf("fields.dateOfBirth is required for %s", processBirth)
		}
		p.certKey = fields["birthCertificateNumber"]
		return p, p.certKey, nil
	}
	uin := fields["UIN"]
	if uin == "" {
		uin = fields["nationalIdNumber"] // OpenCRVS 1.9 example field
	}
	if uin == "" {
		return nil, "", fmt.Errorf("fields.UIN (or nationalIdNumber) of the deceased is required for %s", processDeath)
	}
	if d := fields["declaredAsDeceased"]; d != "" && d != "Y" {
		return nil, "", fmt.Errorf("fields.declaredAsDeceased must be Y")
	}
	p.certKey = fields["deathCertificateNumber"]
	if p.certKey == "" {
		p.certKey = "UIN:" + uin // mosip-api drops the death certificate number from the fields
	}
	return p, p.certKey, nil
}

func hasPopulatedAudit(audits []map[string]any) bool {
	for _, a := range audits {
		for _, v := range a {
			if s, ok := v.(string); ok && s != "" {
				return true
			}
		}
	}
	return false
}

// checkLangArray requires a stringified non-empty [{language, value}].
func checkLangArray(s string) error {
	var vs []struct {
		Language string `json:"language"`
		Value    string `json:"value"`
	}
	if err := json.Unmarshal([]byte(s), &vs); err != nil || len(vs) == 0 {
		return fmt.Errorf("not a stringified [{\"language\",\"value\"}] array")
	}
	for _, v := range vs {
		if v.Language == "" || strings.TrimSpace(v.Value) == "" {
			return fmt.Errorf("language array entries need a language and a value")
		}
	}
	return nil
}

// workflowRequest is the workflowinstance request.
type workflowRequest struct {
	ID      string `json:"id"`
	Request *struct {
		RegistrationID string `json:"registrationId"`
		Process        string `json:"process"`
		Source         string `json:"source"`
	} `json:"request"`
}

// workflow is POST /registrationprocessor/v1/workflowmanager/workflowinstance:
// it needs a created packet and then, asynchronously, issues the credential.
func (m *Mock) workflow(w http.ResponseWriter, r *http.Request) {
	m.count(func(s *Stats) { s.WorkflowCalls++ })
	m.latency(r)
	if m.failRoll() {
		writeError(w, http.StatusInternalServerError, workflowID, "RPR-WIN-500", "Internal Server Error (mock error rate)")
		return
	}
	var req workflowRequest
	if _, err := readJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, workflowID, "RPR-WIN-001", err.Error())
		return
	}
	q := req.Request
	if q == nil || q.RegistrationID == "" || q.Process == "" || q.Source == "" {
		writeError(w, http.StatusBadRequest, workflowID, "RPR-WIN-001", "request.registrationId, request.process and request.source are required")
		return
	}
	m.mu.Lock()
	p, ok := m.packets[q.RegistrationID]
	m.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, workflowID, "RPR-WIN-002", fmt.Sprintf("no packet %s: create it first", truncate(q.RegistrationID, 60)))
		return
	}
	if p.process != q.Process {
		writeError(w, http.StatusBadRequest, workflowID, "RPR-WIN-003", fmt.Sprintf("process %s differs from the packet's %s", truncate(q.Process, 40), p.process))
		return
	}
	m.scheduleCredential(q.RegistrationID, p)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": workflowID, "version": "v1", "responsetime": responseTime(),
		"response": map[string]string{"workflowInstanceId": newUUID()}, "errors": nil,
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
