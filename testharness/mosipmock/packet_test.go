package mosipmock

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

const (
	aid1 = "10001100040000000000000000001"
	aid2 = "10001100040000000000000000002"
)

func TestCreatePacketValidation(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	with := func(f func(req map[string]any)) []byte {
		b := packetBody(aid1, "CRVS_NEW", nil)
		f(b["request"].(map[string]any))
		return jsonBody(t, b)
	}
	field := func(k string, v any) []byte {
		return jsonBody(t, packetBody(aid1, "CRVS_NEW", map[string]any{k: v}))
	}
	cases := map[string][]byte{
		"not JSON":                    []byte("{"),
		"no request":                  []byte(`{"id":"x"}`),
		"id not digits":               with(func(r map[string]any) { r["id"] = "abc" }),
		"id too short":                with(func(r map[string]any) { r["id"] = "123" }),
		"process unknown":             with(func(r map[string]any) { r["process"] = "NEW" }),
		"no source":                   with(func(r map[string]any) { delete(r, "source") }),
		"refId without underscore":    with(func(r map[string]any) { r["refId"] = "10001" }),
		"no schemaVersion":            with(func(r map[string]any) { r["schemaVersion"] = "" }),
		"no fields":                   with(func(r map[string]any) { r["fields"] = map[string]any{} }),
		"no metaInfo":                 with(func(r map[string]any) { delete(r, "metaInfo") }),
		"empty audit":                 with(func(r map[string]any) { r["audits"] = []any{map[string]any{}} }),
		"no audits":                   with(func(r map[string]any) { delete(r, "audits") }),
		"field not a string":          field("postalCode", 14022),
		"fullName plain":              field("fullName", "Baby Doe"),
		"fullName empty array":        field("fullName", "[]"),
		"gender without language":     field("gender", `[{"value":"Male"}]`),
		"dob with dashes":             field("dateOfBirth", "2026-11-01"),
		"dob impossible":              field("dateOfBirth", "2026/02/30"),
		"no birthCertificateNumber":   field("birthCertificateNumber", nil),
		"no dateOfBirth":              field("dateOfBirth", nil),
		"no fullName":                 field("fullName", nil),
		"death without UIN":           jsonBody(t, packetBody(aid1, "CRVS_DEATH", map[string]any{"UIN": nil})),
		"death declaredAsDeceased N":  jsonBody(t, packetBody(aid1, "CRVS_DEATH", map[string]any{"declaredAsDeceased": "N"})),
		"death declaration date dash": jsonBody(t, packetBody(aid1, "CRVS_DEATH", map[string]any{"deceasedDeclarationDate": "2026-11-20"})),
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			st, b, _ := call(t, "PUT", m.URL()+"/commons/v1/packetmanager/createPacket", tok, "application/json", body)
			if st != 400 || (errorCode(b) != "KER-PUT-001" && errorCode(b) != "KER-PUT-002") {
				t.Fatalf("got %d %s", st, b)
			}
		})
	}
	if s := m.Stats(); len(s.PacketsByRegistrationID) != 0 || len(s.PacketsByCertificate) != 0 || s.CreatePacketCalls != len(cases) {
		t.Fatalf("invalid packets were counted: %+v", s)
	}
}

func TestCreatePacketResponseAndUpdates(t *testing.T) {
	m := startMock(t, Profile{NeverCallBack: true})
	tok := login(t, m)
	put := func(body map[string]any) []byte {
		st, b, _ := call(t, "PUT", m.URL()+"/commons/v1/packetmanager/createPacket", tok, "application/json", jsonBody(t, body))
		if st != 200 {
			t.Fatalf("createPacket: %d %s", st, b)
		}
		return b
	}
	b := put(packetBody(aid1, "CRVS_NEW", map[string]any{"birthCertificateNumber": "BRN-A"}))
	var res struct {
		ID       string `json:"id"`
		Response []struct {
			ID, PacketName, Process, RefID, Source string
		} `json:"response"`
		Errors []any `json:"errors"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.ID != "mosip.registration.packet.writer" || len(res.Response) != 3 || res.Errors == nil || len(res.Errors) != 0 {
		t.Fatalf("packet-writer answer %s", b)
	}
	for i, suffix := range []string{"_evidence", "_optional", "_id"} {
		p := res.Response[i]
		if p.ID != aid1 || p.PacketName != aid1+suffix || p.Process != "CRVS_NEW" || p.RefID != "10001_10004" || p.Source != "OPENCRVS" {
			t.Fatalf("packet %d: %+v", i, p)
		}
	}
	put(packetBody(aid1, "CRVS_NEW", map[string]any{"birthCertificateNumber": "BRN-A"})) // same AID: an update
	put(packetBody(aid2, "CRVS_NEW", map[string]any{"birthCertificateNumber": "BRN-A"})) // a second packet for BRN-A
	put(packetBody("10001100040000000000000000003", "CRVS_DEATH", nil))
	put(packetBody("10001100040000000000000000004", "CRVS_DEATH", map[string]any{"deathCertificateNumber": "DRN-1"}))
	s := m.Stats()
	if s.PacketsByRegistrationID[aid1] != 2 || s.PacketsByRegistrationID[aid2] != 1 {
		t.Fatalf("PacketsByRegistrationID %v", s.PacketsByRegistrationID)
	}
	if s.PacketsByCertificate["BRN-A"] != 2 || s.PacketsByCertificate["UIN:1234567890"] != 1 || s.PacketsByCertificate["DRN-1"] != 1 {
		t.Fatalf("PacketsByCertificate %v", s.PacketsByCertificate)
	}
	if s.CreatePacketCalls != 5 {
		t.Fatalf("CreatePacketCalls %d", s.CreatePacketCalls)
	}
	// the same AID under a corrected certificate number: still one packet
	put(packetBody(aid2, "CRVS_NEW", map[string]any{"birthCertificateNumber": "BRN-B"}))
	if s := m.Stats(); s.PacketsByCertificate["BRN-A"] != 1 || s.PacketsByCertificate["BRN-B"] != 1 || len(s.PacketsByRegistrationID) != 4 {
		t.Fatalf("after moving %s to BRN-B: %v", aid2, s.PacketsByCertificate)
	}
}

func TestSamePacketTwiceIsOneRegistration(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	sub := newSubscriber(t, hubSecret)
	sub.subscribe(t, m, tok)
	register(t, m, tok, aid1, "CRVS_NEW")
	register(t, m, tok, aid1, "CRVS_NEW")
	got := sub.waitDeliveries(t, 2, 5*time.Second)
	s := m.Stats()
	if s.PacketsByRegistrationID[aid1] != 2 || len(s.PacketsByCertificate) != 1 || s.PacketsByCertificate["BRN-0001"] != 1 {
		t.Fatalf("stats %+v", s)
	}
	if len(s.VIDs) != 1 || subjectOf(got[0].vc)["VID"] != subjectOf(got[1].vc)["VID"] || subjectOf(got[0].vc)["VID"] != s.VIDs[aid1] {
		t.Fatalf("the VID must be stable per packet id: %v, deliveries %v / %v", s.VIDs, subjectOf(got[0].vc), subjectOf(got[1].vc))
	}
}

func TestWorkflowValidation(t *testing.T) {
	m := startMock(t, Profile{})
	tok := login(t, m)
	u := m.URL() + "/registrationprocessor/v1/workflowmanager/workflowinstance"
	if st, b, _ := call(t, "PUT", m.URL()+"/commons/v1/packetmanager/createPacket", tok, "application/json", jsonBody(t, packetBody(aid1, "CRVS_NEW", nil))); st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	cases := []struct {
		name string
		body []byte
		code string
	}{
		{"not JSON", []byte("{"), "RPR-WIN-001"},
		{"no request", []byte(`{}`), "RPR-WIN-001"},
		{"no source", []byte(`{"request":{"registrationId":"` + aid1 + `","process":"CRVS_NEW"}}`), "RPR-WIN-001"},
		{"packet never created", jsonBody(t, workflowBody(aid2, "CRVS_NEW")), "RPR-WIN-002"},
		{"process differs", jsonBody(t, workflowBody(aid1, "CRVS_DEATH")), "RPR-WIN-003"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if st, b, _ := call(t, "POST", u, tok, "application/json", c.body); st != 400 || errorCode(b) != c.code {
				t.Fatalf("got %d %s, want 400 %s", st, b, c.code)
			}
		})
	}
	st, b, _ := call(t, "POST", u, tok, "application/json", jsonBody(t, workflowBody(aid1, "CRVS_NEW")))
	var res struct {
		ID       string `json:"id"`
		Response struct {
			WorkflowInstanceID string `json:"workflowInstanceId"`
		} `json:"response"`
	}
	if st != 200 || json.Unmarshal(b, &res) != nil || res.ID != "mosip.registration.processor.workflow.instance" ||
		!regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(res.Response.WorkflowInstanceID) {
		t.Fatalf("workflow answer %d %s", st, b)
	}
	if s := m.Stats(); s.WorkflowCalls != len(cases)+1 || s.VIDs[aid1] == "" {
		t.Fatalf("stats %+v", s)
	}
}
