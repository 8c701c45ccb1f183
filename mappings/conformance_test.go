package mappings

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"

	"github.com/crvshub/crvshub/testharness/fixtures"
)

// TestConformanceSharedFixtures maps every fixture bundle of the project's
// shared folder: no panic, no non-*Error error; births and deaths keep the
// subject's name, sex, dates and the mother's identifier as in the bundle.
func TestConformanceSharedFixtures(t *testing.T) {
	root := fixtures.SharedDir()
	if root == "" {
		t.Skip("no shared/fixtures folder above the working directory; conformance fixtures skipped")
	}
	m := newMapper(t)
	vals := fixtures.FarajalandValues(m.cc)
	var files []string
	for _, d := range []string{"opencrvs", "hl7"} {
		fs, _ := filepath.Glob(filepath.Join(root, d, "*.json"))
		files = append(files, fs...)
	}
	if len(files) == 0 {
		t.Skip("shared/fixtures has no opencrvs or hl7 bundles")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			body, err := fixtures.Substitute(raw, vals)
			if err != nil {
				t.Fatal(err)
			}
			res, err := m.Map(body, testNow)
			var me *Error
			if err != nil {
				if !errors.As(err, &me) {
					t.Fatalf("non-*Error error (a bug): %v", err)
				}
				if _, jerr := json.Marshal(me.Outcome()); jerr != nil {
					t.Fatal(jerr)
				}
				if len(me.Issues) == 0 || me.Kind == core.KindInternal {
					t.Fatalf("an *Error without issues or status: %+v", me)
				}
				t.Logf("refused (kind %d): %s", me.Kind, me.Error())
				if exp, ok := conformanceExpect[filepath.Base(f)]; ok && exp.event != "" {
					t.Fatalf("expected a %s notification, got %v", exp.event, err)
				}
				return
			}
			if exp, ok := conformanceExpect[filepath.Base(f)]; ok && exp.event == "" {
				t.Fatalf("expected a refusal, got family %s", res.Family)
			}
			t.Logf("family %s, event %s, tx %s, office %q, %d issues", res.Family, res.EventType, res.TransactionID, res.Office, len(res.Issues))
			if strings.Contains(string(raw), "regLastOffice") && strings.Contains(string(raw), "{{officeId}}") && res.Office != vals["officeId"] {
				t.Errorf("office %q, want the regLastOffice %s", res.Office, vals["officeId"])
			}
			checkAgainstBundle(t, body, res)
		})
	}
}

type expectation struct{ event string }

// conformanceExpect says which fixtures are notifications ("" = refused).
var conformanceExpect = map[string]expectation{
	"farajaland-postman-birth-notification-max.json":        {"birth"},
	"farajaland-postman-birth-notification-min.json":        {"birth"},
	"farajaland-postman-death-notification-max.json":        {"death"},
	"farajaland-postman-death-notification-min.json":        {"death"},
	"farajaland-postman-v2-notify-event-max.json":           {""},
	"mosip-incoming-birth-bundle.json":                      {"birth"},
	"bfdr-birth-record-document-minimal.json":               {"birth"},
	"bfdr-birth-record-document-multiple-birth.json":        {"birth"},
	"bfdr-birth-record-document-unmapped-birthplace.json":   {"birth"},
	"bfdr-birth-record-update-message.json":                 {""}, // updates are refused until supported
	"bfdr-fetal-death-report-document-unnamed-fetus.json":   {""},
	"bfdr-fetal-death-submission-message.json":              {""},
	"nvss-batch-two-vrdr-submission-messages.json":          {""},
	"vrdr-death-record-document-hawaii-infant.json":         {"death"},
	"vrdr-death-record-document-partial-dates.json":         {"death"},
	"vrdr-death-record-submission-message-kansas-stu1.json": {"death"},
	"vrdr-death-record-submission-message-michigan.json":    {"death"},
}

// checkAgainstBundle finds the subject and mother in the raw bundle
// independently of the specs and compares them with the declaration.
func checkAgainstBundle(t *testing.T, body []byte, res *Result) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	var patients []map[string]any
	var deathDates []string // Observation 81956-5 valueDateTime
	var walk func(v any)
	walk = func(v any) {
		o, ok := v.(map[string]any)
		if !ok {
			return
		}
		if o["resourceType"] == "Patient" {
			patients = append(patients, o)
		}
		if o["resourceType"] == "Observation" {
			if cb, _ := json.Marshal(o["code"]); strings.Contains(string(cb), `"81956-5"`) {
				if d, ok := o["valueDateTime"].(string); ok && len(d) >= 10 {
					deathDates = append(deathDates, d)
				}
			}
		}
		if es, ok := o["entry"].([]any); ok {
			for _, e := range es {
				if eo, ok := e.(map[string]any); ok {
					walk(eo["resource"])
				}
			}
		}
	}
	walk(doc)
	prefix := map[string]string{"birth": "child", "death": "deceased"}[res.EventType]
	if prefix == "" {
		t.Fatalf("unexpected event type %q", res.EventType)
	}
	var name struct{ Firstname, Surname string }
	if raw := res.Declaration[prefix+".name"]; raw != nil {
		if err := json.Unmarshal(raw, &name); err != nil {
			t.Fatal(err)
		}
	}
	// the subject is the Patient whose family name is the mapped surname
	var subj map[string]any
	for _, p := range patients {
		ns, _ := p["name"].([]any)
		for _, n := range ns {
			no, _ := n.(map[string]any)
			fam, _ := no["family"].(string)
			given, _ := no["given"].([]any)
			if fam != "" && fam == name.Surname && len(given) > 0 && given[0] == name.Firstname {
				subj = p
			}
		}
		if subj != nil {
			break
		}
	}
	if name.Surname != "" && subj == nil {
		t.Fatalf("mapped surname %q is no Patient's family name", name.Surname)
	}
	if subj == nil {
		t.Logf("subject has no name in the bundle; declaration %s", res.Declaration)
		return
	}
	if g, ok := subj["gender"].(string); ok {
		var got string
		_ = json.Unmarshal(res.Declaration[prefix+".gender"], &got)
		want := map[string]string{"male": "male", "female": "female", "other": "unknown", "unknown": "unknown"}[g]
		if got != want {
			t.Errorf("%s.gender = %q, bundle says %q", prefix, got, g)
		}
	}
	dobField := prefix + ".dob"
	if bd, ok := subj["birthDate"].(string); ok && len(bd) == 10 {
		var got string
		_ = json.Unmarshal(res.Declaration[dobField], &got)
		if got != bd {
			t.Errorf("%s = %q, bundle birthDate %q", dobField, got, bd)
		}
	}
	if res.EventType == "death" && len(deathDates) > 0 {
		var got string
		_ = json.Unmarshal(res.Declaration["eventDetails.date"], &got)
		if got != deathDates[0][:10] {
			t.Errorf("eventDetails.date = %q, bundle's date of death Observation says %q", got, deathDates[0])
		}
	}
	if res.EventType == "death" {
		if dd, ok := subj["deceasedDateTime"].(string); ok && len(dd) >= 10 {
			var got string
			_ = json.Unmarshal(res.Declaration["eventDetails.date"], &got)
			if got != dd[:10] {
				t.Errorf("eventDetails.date = %q, bundle deceasedDateTime %q", got, dd)
			}
		}
	}
	if res.EventType == "birth" {
		// the mother's national id, if the bundle has one, is mapped; a
		// US SSN is not Farajaland's national id and never is
		var mnid string
		_ = json.Unmarshal(res.Declaration["mother.nid"], &mnid)
		for _, p := range patients {
			if p["gender"] != "female" || fmt.Sprint(p["name"]) == fmt.Sprint(subj["name"]) {
				continue
			}
			ids, _ := p["identifier"].([]any)
			for _, id := range ids {
				io, _ := id.(map[string]any)
				tb, _ := json.Marshal(io["type"])
				v, _ := io["value"].(string)
				if strings.Contains(string(tb), "NATIONAL_ID") && v != mnid {
					t.Errorf("mother.nid = %q, bundle has %q", mnid, v)
				}
				if strings.Contains(string(tb), `"SS"`) && v != "" && v == mnid {
					t.Errorf("mother.nid = %q, a US SSN", mnid)
				}
			}
		}
	}
}

// TestConformanceLegacyMOSIPWebhooks: shared/fixtures/mosip holds the
// OpenCRVS <= 1.6 BIRTH_REGISTERED / DEATH_REGISTERED webhook bodies that
// the old MOSIP mediator consumed. Their FHIR bundle (event.context[0]) is
// an OpenCRVS record, not a notification, and has no Bundle.type: the
// mapper must refuse it with a 4xx naming Bundle.type, not guess.
func TestConformanceLegacyMOSIPWebhooks(t *testing.T) {
	root := fixtures.SharedDir()
	if root == "" {
		t.Skip("no shared/fixtures folder above the working directory; conformance fixtures skipped")
	}
	files, _ := filepath.Glob(filepath.Join(root, "mosip", "legacy-*.json"))
	if len(files) == 0 {
		t.Skip("shared/fixtures/mosip has no legacy webhook bodies")
	}
	m := newMapper(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var w struct {
				Event struct {
					Hub     struct{ Topic string }
					Context []json.RawMessage
				}
			}
			if err := json.Unmarshal(raw, &w); err != nil || len(w.Event.Context) == 0 {
				t.Fatalf("not a webhook body with a context bundle: %v", err)
			}
			_, err = m.Map(w.Event.Context[0], testNow)
			var me *Error
			if !errors.As(err, &me) || me.Kind != core.KindInvalid && me.Kind != core.KindUnprocessable || !strings.Contains(me.Error(), "Bundle.type") {
				t.Fatalf("%s bundle: %v, want a 4xx naming Bundle.type", w.Event.Hub.Topic, err)
			}
		})
	}
}
