package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/httpapi"
	"github.com/crvshub/crvshub/mappings"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

const (
	pathFHIR           = "/fhir"
	pathProcessMessage = "/fhir/$process-message"
	pathNotification   = "/notification"
	fhirJSON           = "application/fhir+json"

	// The project's own bundles (see testdata/fhir and docs/examples).
	v1BirthFile = "../../docs/examples/fhir-birth.json" // the README's example
	v1DeathFile = "testdata/fhir/opencrvs-v1-death.json"
)

// Mapping families the tests need (mappings.Result.Family).
const (
	familyV1Birth = "opencrvs-v1-birth"
	familyV1Death = "opencrvs-v1-death"
)

var locationRe = regexp.MustCompile(`^/api/events/events/([0-9a-f-]{36})$`)

// fhirOutcome is a FHIR OperationOutcome.
type fhirOutcome struct {
	ResourceType string `json:"resourceType"`
	Issue        []struct {
		Severity    string   `json:"severity"`
		Code        string   `json:"code"`
		Expression  []string `json:"expression,omitempty"`
		Diagnostics string   `json:"diagnostics"`
	} `json:"issue"`
}

// text is every issue's diagnostics and expressions, for matching.
func (o fhirOutcome) text() string {
	var b strings.Builder
	for _, is := range o.Issue {
		b.WriteString(is.Diagnostics + " " + strings.Join(is.Expression, " ") + "\n")
	}
	return b.String()
}

func (o fhirOutcome) has(severities ...string) bool {
	for _, is := range o.Issue {
		if slices.Contains(severities, is.Severity) {
			return true
		}
	}
	return false
}

// postFHIR posts a body with a Content-Type ("" = none).
func postFHIR(t *testing.T, h *hubtest.Hub, path, tok string, body []byte, ct string) *hubtest.Response {
	t.Helper()
	hdr := map[string]string{}
	if ct != "" {
		hdr["Content-Type"] = ct
	}
	if tok != "" {
		hdr["Authorization"] = "Bearer " + tok
	}
	return h.Send(request(t, h, "POST", path, bytes.NewReader(body), hdr))
}

// wantFHIRType fails unless the answer is application/fhir+json.
func wantFHIRType(t *testing.T, res *hubtest.Response) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, fhirJSON) {
		t.Errorf("Content-Type %q, want %s; body %.300s", ct, fhirJSON, res.Body)
	}
}

// wantOutcome checks the status and that the body is an OperationOutcome
// with at least one issue, an error or fatal issue when the status is an
// error, and every want string (case-insensitive) in its issues.
func wantOutcome(t *testing.T, res *hubtest.Response, status int, want ...string) fhirOutcome {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d; body %.600s", res.Status, status, res.Body)
	}
	wantFHIRType(t, res)
	var oo fhirOutcome
	if err := json.Unmarshal(res.Body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("not an OperationOutcome with issues (%v): %.600s", err, res.Body)
	}
	for i, is := range oo.Issue {
		if is.Severity == "" || is.Code == "" || is.Diagnostics == "" {
			t.Errorf("issue %d lacks severity, code or diagnostics: %+v", i, is)
		}
	}
	if status >= 400 && !oo.has("error", "fatal") {
		t.Errorf("a %d answer without an error issue: %s", status, res.Body)
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(oo.text()), strings.ToLower(w)) {
			t.Errorf("outcome does not mention %q: %s", w, res.Body)
		}
	}
	return oo
}

// families lists the mapping families the hub's mapper knows.
func families(h *hubtest.Hub) []string { return h.App.FHIR.Families() }

// requireFamily skips the test while the mappings package does not know
// a family yet.
func requireFamily(t *testing.T, h *hubtest.Hub, family string) {
	t.Helper()
	if !slices.Contains(families(h), family) {
		t.Skipf("family %s not yet supported by mappings (known: %v)", family, families(h))
	}
}

// requireMapper skips the test while the mapper knows no family at all.
func requireMapper(t *testing.T, h *hubtest.Hub) {
	t.Helper()
	if len(families(h)) == 0 {
		t.Skip("mappings knows no bundle family yet")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editJSON decodes a JSON object, lets edit change it, and encodes it.
func editJSON(t *testing.T, raw []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	return mustJSON(t, m)
}

// fresh gives a bundle a new Bundle.identifier, so that it is a new
// notification (the mapper derives the transaction id from it).
func fresh(t *testing.T, raw []byte) []byte {
	t.Helper()
	return editJSON(t, raw, func(m map[string]any) {
		m["identifier"] = map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + uuid.NewString()}
	})
}

// entries returns a bundle's entries.
func entries(m map[string]any) []any { e, _ := m["entry"].([]any); return e }

// resourceAt is the resource of entry i.
func resourceAt(m map[string]any, i int) map[string]any {
	e, _ := entries(m)[i].(map[string]any)
	r, _ := e["resource"].(map[string]any)
	return r
}

// dropEntries removes entries whose resource matches, and Composition
// section entries pointing at them.
func dropEntries(m map[string]any, match func(r map[string]any) bool) {
	var keep []any
	gone := map[string]bool{}
	for i, e := range entries(m) {
		if match(resourceAt(m, i)) {
			gone[e.(map[string]any)["fullUrl"].(string)] = true
			continue
		}
		keep = append(keep, e)
	}
	m["entry"] = keep
	comp := resourceAt(m, 0)
	var secs []any
	for _, s := range comp["section"].([]any) {
		refs := s.(map[string]any)["entry"].([]any)
		if len(refs) > 0 && gone[refs[0].(map[string]any)["reference"].(string)] {
			continue
		}
		secs = append(secs, s)
	}
	comp["section"] = secs
	if subj, ok := comp["subject"].(map[string]any); ok && gone[subj["reference"].(string)] {
		delete(comp, "subject")
	}
}

func isType(rt string) func(map[string]any) bool {
	return func(r map[string]any) bool { return r["resourceType"] == rt }
}

// firstOf returns the first resource of a type in a bundle.
func firstOf(m map[string]any, rt string) map[string]any {
	for i := range entries(m) {
		if r := resourceAt(m, i); r["resourceType"] == rt {
			return r
		}
	}
	return nil
}

// childPatient is the v1 birth bundle's child (the Composition subject).
func childPatient(m map[string]any) map[string]any {
	ref := resourceAt(m, 0)["subject"].(map[string]any)["reference"]
	for i, e := range entries(m) {
		if e.(map[string]any)["fullUrl"] == ref {
			return resourceAt(m, i)
		}
	}
	return nil
}

// withoutOffice removes what names an office in a v1 bundle: the Task's
// regLastOffice and the Encounter's location.
func withoutOffice(t *testing.T, raw []byte) []byte {
	t.Helper()
	return editJSON(t, raw, func(m map[string]any) {
		task := firstOf(m, "Task")
		var ext []any
		for _, e := range task["extension"].([]any) {
			if !strings.HasSuffix(e.(map[string]any)["url"].(string), "/regLastOffice") {
				ext = append(ext, e)
			}
		}
		task["extension"] = ext
		dropEntries(m, isType("Encounter"))
	})
}

// created checks a 201 answer of an ingestion route and returns the
// event id (from Location) and the outcome.
func created(t *testing.T, res *hubtest.Response, status int) (string, fhirOutcome) {
	t.Helper()
	oo := wantOutcome(t, res, status)
	if oo.has("error", "fatal") {
		t.Errorf("a success with an error issue: %s", res.Body)
	}
	m := locationRe.FindStringSubmatch(res.Header.Get("Location"))
	if m == nil {
		t.Fatalf("Location %q is not /api/events/events/{id}", res.Header.Get("Location"))
	}
	if oo.Issue[0].Severity != "information" || !strings.Contains(oo.Issue[0].Diagnostics, m[1]) {
		t.Errorf("first issue does not name the event %s: %+v", m[1], oo.Issue[0])
	}
	return m[1], oo
}

// declared reads an event over the events API (as the client would) and
// returns it with its declaration.
func declared(t *testing.T, h *hubtest.Hub, tok, id string) (*core.EventDocument, map[string]any) {
	t.Helper()
	res := h.Do("GET", eventPath(id), tok, nil)
	wantOK(t, res)
	ev := res.Event()
	var decl map[string]any
	if err := json.Unmarshal(mustJSON(t, core.Derive(ev).Declaration), &decl); err != nil {
		t.Fatal(err)
	}
	return ev, decl
}

// wantFields compares declaration fields with expected values by JSON.
func wantFields(t *testing.T, decl map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if !jsonEqual(t, mustJSON(t, decl[k]), mustJSON(t, v)) {
			t.Errorf("%s = %s, want %s", k, mustJSON(t, decl[k]), mustJSON(t, v))
		}
	}
}

// notifyAt is the createdAtLocation of the event's NOTIFY request.
func notifyAt(ev *core.EventDocument) string {
	for _, a := range ev.Actions {
		if a.Type == core.ActionNotify {
			return a.CreatedAtLocation
		}
	}
	return ""
}

// TestFHIRMetadata: the CapabilityStatement needs no token and names the
// interactions and the $process-message operation.
func TestFHIRMetadata(t *testing.T) {
	t.Parallel()
	h := start(t)
	res := h.Do("GET", "/fhir/metadata", "", nil)
	wantOK(t, res)
	wantFHIRType(t, res)
	var cs struct {
		ResourceType string   `json:"resourceType"`
		Status       string   `json:"status"`
		Kind         string   `json:"kind"`
		FHIRVersion  string   `json:"fhirVersion"`
		Format       []string `json:"format"`
		Rest         []struct {
			Mode     string `json:"mode"`
			Resource []struct {
				Type        string `json:"type"`
				Interaction []struct {
					Code string `json:"code"`
				} `json:"interaction"`
			} `json:"resource"`
			Operation []struct {
				Name       string `json:"name"`
				Definition string `json:"definition"`
			} `json:"operation"`
		} `json:"rest"`
	}
	res.JSON(&cs)
	if cs.ResourceType != "CapabilityStatement" || cs.Status != "active" || cs.Kind != "instance" || cs.FHIRVersion != "4.0.1" ||
		!slices.Contains(cs.Format, fhirJSON) || len(cs.Rest) != 1 || cs.Rest[0].Mode != "server" {
		t.Fatalf("capability statement %s", res.Body)
	}
	var interactions []string
	for _, r := range cs.Rest[0].Resource {
		for _, i := range r.Interaction {
			interactions = append(interactions, r.Type+":"+i.Code)
		}
	}
	slices.Sort(interactions)
	if !slices.Equal(interactions, []string{"Bundle:create", "Bundle:read"}) {
		t.Errorf("interactions %v", interactions)
	}
	if len(cs.Rest[0].Operation) != 1 || cs.Rest[0].Operation[0].Name != "process-message" ||
		cs.Rest[0].Operation[0].Definition != "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message" {
		t.Errorf("operations %+v", cs.Rest[0].Operation)
	}
	for _, f := range families(h) {
		if !strings.Contains(string(res.Body), f) {
			t.Errorf("the statement does not list family %s", f)
		}
	}
}

// TestFHIRAuth: the FHIR routes take the same bearer tokens; a missing or
// bad token is 401 and a missing scope 403, both as OperationOutcomes.
func TestFHIRAuth(t *testing.T) {
	t.Parallel()
	h := start(t)
	admin := adminToken(h)
	ev := h.Notify(admin, "birth", newTx(), hubtest.BirthDeclaration("Ada", "Banda"))
	createOnly := h.ClientToken(hubtest.OfficeIbombo, "type=record.create", "type=record.read")
	notifyOnly := h.ClientToken(hubtest.OfficeIbombo, "type=record.notify", "type=record.read")
	noRead := h.ClientToken(hubtest.OfficeIbombo, "type=record.create", "type=record.notify")
	bundle := readFile(t, v1BirthFile)
	tests := []struct {
		name, method, path, tok string
		status                  int
		want                    string
	}{
		{"no token /fhir", "POST", pathFHIR, "", 401, "token"},
		{"no token $process-message", "POST", pathProcessMessage, "", 401, "token"},
		{"no token /notification", "POST", pathNotification, "", 401, "token"},
		{"no token GET Bundle", "GET", "/fhir/Bundle/" + ev.ID, "", 401, "token"},
		{"bad token", "POST", pathFHIR, "not-a-jwt", 401, ""},
		{"without record.notify /fhir", "POST", pathFHIR, createOnly, 403, "record.notify"},
		{"without record.notify /notification", "POST", pathNotification, createOnly, 403, "record.notify"},
		{"without record.create $process-message", "POST", pathProcessMessage, notifyOnly, 403, "record.create"},
		{"without record.read GET Bundle", "GET", "/fhir/Bundle/" + ev.ID, noRead, 403, "record.read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			hdr := map[string]string{}
			if tc.method == "POST" {
				body = bytes.NewReader(bundle)
				hdr["Content-Type"] = fhirJSON
			}
			if tc.tok != "" {
				hdr["Authorization"] = "Bearer " + tc.tok
			}
			res := h.Send(request(t, h, tc.method, tc.path, body, hdr))
			wantOutcome(t, res, tc.status, tc.want)
			if tc.status == 401 && res.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if n := total(t, h, admin); n != 1 {
		t.Errorf("%d events stored, want the 1 made by the test", n)
	}
}

// TestFHIRContentTypes: FHIR JSON and JSON are read (a missing type is
// JSON); anything else is 415 as an OperationOutcome.
func TestFHIRContentTypes(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	tests := []struct {
		ct  string
		ok  bool
		why string
	}{
		{"text/plain", false, ""},
		{"text/plain; charset=utf-8", false, ""},
		{"application/xml", false, ""},
		{"application/fhir+xml", false, ""},
		{"application/x-www-form-urlencoded", false, ""},
		{"application/fhir+json;;", false, ""},
		{fhirJSON, true, ""},
		{"application/fhir+json; fhirVersion=4.0; charset=utf-8", true, ""},
		{"application/json", true, ""},
		{"application/json; charset=utf-8", true, ""},
		{"", true, ""},
	}
	for _, path := range []string{pathFHIR, pathProcessMessage, pathNotification} {
		for _, tc := range tests {
			t.Run(path+" "+tc.ct, func(t *testing.T) {
				// an empty Bundle: read, then refused by the mapper
				res := postFHIR(t, h, path, tok, []byte(`{"resourceType":"Bundle","type":"collection","entry":[]}`), tc.ct)
				if !tc.ok {
					wantOutcome(t, res, http.StatusUnsupportedMediaType, "application/fhir+json")
					return
				}
				if res.Status == http.StatusUnsupportedMediaType || res.Status < 400 || res.Status > 499 {
					t.Fatalf("status %d, want a 4xx from reading the bundle; %s", res.Status, res.Body)
				}
				wantOutcome(t, res, res.Status)
			})
		}
	}
	if n := total(t, h, tok); n != 0 {
		t.Errorf("%d events stored", n)
	}
}

// TestFHIRBodyLimit: the FHIR routes read up to 8 MiB; a 20 MiB body is
// 413 (declared or chunked), as an OperationOutcome, and stores nothing.
func TestFHIRBodyLimit(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	const mib = 1 << 20
	padded := func(n int) []byte { // a JSON object of exactly n bytes
		head, tail := `{"resourceType":"Bundle","type":"collection","entry":[],"pad":"`, `"}`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	tests := []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"20 MiB declared", 20 * mib, false, http.StatusRequestEntityTooLarge},
		{"20 MiB chunked", 20 * mib, true, http.StatusRequestEntityTooLarge},
		{"8 MiB + 1 declared", 8*mib + 1, false, http.StatusRequestEntityTooLarge},
		{"8 MiB chunked is read", 8 * mib, true, 0},
		{"2 MiB (over the events API limit) is read", 2 * mib, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(padded(tc.size))
			if tc.chunked {
				body = io.MultiReader(body)
			}
			r := request(t, h, "POST", pathFHIR, body, map[string]string{"Authorization": "Bearer " + tok, "Content-Type": fhirJSON})
			if tc.chunked {
				r.TransferEncoding = []string{"chunked"}
			}
			res := h.Send(r)
			if tc.status != 0 {
				wantOutcome(t, res, tc.status, "larger than")
				return
			}
			if res.Status == http.StatusRequestEntityTooLarge || res.Status < 400 || res.Status > 499 {
				t.Fatalf("status %d, want the bundle read and refused with a 4xx; %.300s", res.Status, res.Body)
			}
			wantOutcome(t, res, res.Status)
		})
	}
	if n := total(t, h, tok); n != 0 {
		t.Errorf("%d events stored", n)
	}
}

// TestFHIRBadInput: every unusable body is a 4xx OperationOutcome that
// says what is wrong, on each ingestion route, and nothing is stored.
func TestFHIRBadInput(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireMapper(t, h)
	tok := adminToken(h)
	birth := readFile(t, v1BirthFile)
	tests := []struct {
		name   string
		body   []byte
		family string   // "" = any mapper
		want   []string // in the issues, case-insensitive
	}{
		{"not JSON", []byte(`{"resourceType": "Bundle", "type": `), "", []string{"JSON"}},
		{"not JSON at all", []byte("hello"), "", []string{"JSON"}},
		{"empty body", nil, "", nil},
		{"JSON, not FHIR", []byte(`{"hello":"world"}`), "", []string{"resourceType"}},
		{"a JSON array", []byte(`[{"resourceType":"Bundle"}]`), "", nil},
		{"wrong resourceType", []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Banda"}]}`), "", []string{"Patient"}},
		{"empty bundle", []byte(`{"resourceType":"Bundle","type":"document","entry":[]}`), "", nil},
		{"trailing }", append(fresh(t, birth), '}'), "", []string{"trailing data"}},
		{"trailing ]", append(fresh(t, birth), ']'), "", []string{"trailing data"}},
		{"no subject", editJSON(t, fresh(t, birth), func(m map[string]any) {
			child := childPatient(m)
			dropEntries(m, func(r map[string]any) bool {
				return r["resourceType"] == "Patient" && r["birthDate"] == child["birthDate"]
			})
		}), familyV1Birth, nil},
		{"bad date", editJSON(t, fresh(t, birth), func(m map[string]any) { childPatient(m)["birthDate"] = "2024-02-30" }), familyV1Birth, []string{"birthDate"}},
		{"birth in the future", editJSON(t, fresh(t, birth), func(m map[string]any) { childPatient(m)["birthDate"] = "2999-01-01" }), familyV1Birth, []string{"birthDate"}},
	}
	for _, path := range []string{pathFHIR, pathNotification} {
		for _, tc := range tests {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				if tc.family != "" {
					requireFamily(t, h, tc.family)
				}
				res := postFHIR(t, h, path, tok, tc.body, fhirJSON)
				if res.Status < 400 || res.Status > 499 {
					t.Fatalf("status %d, want 4xx; %s", res.Status, res.Body)
				}
				wantOutcome(t, res, res.Status, tc.want...)
				if res.Header.Get("Location") != "" {
					t.Errorf("a refused bundle has a Location %s", res.Header.Get("Location"))
				}
			})
		}
	}
	if n := total(t, h, tok); n != 0 {
		t.Errorf("%d events stored", n)
	}
}

// TestFHIRJunkEntries: a bundle padded with junk entries gets an answer
// that does not grow with the junk (one issue per kind of junk, at most
// httpapi.MaxOutcomeIssues issues and a count of the rest), and a bundle
// of more than mappings.MaxBundleEntries entries is a 413 naming
// Bundle.entry on every ingestion route, with nothing stored.
func TestFHIRJunkEntries(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	tok := adminToken(h)

	t.Run("padded within the limit", func(t *testing.T) {
		body := editJSON(t, fresh(t, readFile(t, v1BirthFile)), func(m map[string]any) {
			e := entries(m)
			for i := 0; i < 9000; i++ {
				e = append(e, 1)
			}
			for i := 0; i < 2*httpapi.MaxOutcomeIssues; i++ { // a kind of its own each
				e = append(e, map[string]any{"resource": map[string]any{"resourceType": fmt.Sprintf("Junk%d", i)}})
			}
			m["entry"] = e
		})
		res := postFHIR(t, h, pathFHIR, tok, body, fhirJSON)
		oo := wantOutcome(t, res, http.StatusCreated, "9000 entries ignored", "and ")
		if n := len(oo.Issue); n != httpapi.MaxOutcomeIssues+1 {
			t.Errorf("%d issues, want %d and a count of the rest", n, httpapi.MaxOutcomeIssues+1)
		}
		if !strings.Contains(oo.Issue[0].Diagnostics, "created") {
			t.Errorf("the first issue is not the summary: %+v", oo.Issue[0])
		}
		if last := oo.Issue[len(oo.Issue)-1].Diagnostics; !strings.Contains(last, "more issues") {
			t.Errorf("last issue %q does not count the rest", last)
		}
		if len(res.Body) > 64<<10 {
			t.Errorf("a %d-byte bundle got a %d-byte answer", len(body), len(res.Body))
		}
	})

	junk := func(typ string, n int) []byte {
		return []byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.TrimSuffix(strings.Repeat("1,", n), ",") + `]}`)
	}
	over := mappings.MaxBundleEntries + 1
	for _, tc := range []struct {
		path string
		body []byte
	}{
		{pathFHIR, junk("document", over)},
		{pathNotification, junk("document", over)},
		{pathProcessMessage, junk("message", over)},
		{pathFHIR, junk("collection", (7<<20)/2)}, // about 7 MiB of entries, under the body limit
	} {
		t.Run(fmt.Sprintf("%s %d bytes", tc.path, len(tc.body)), func(t *testing.T) {
			res := postFHIR(t, h, tc.path, tok, tc.body, fhirJSON)
			wantOutcome(t, res, http.StatusRequestEntityTooLarge, "Bundle.entry", fmt.Sprint(mappings.MaxBundleEntries))
			if len(res.Body) > 4<<10 {
				t.Errorf("a %d-byte bundle got a %d-byte answer", len(tc.body), len(res.Body))
			}
		})
	}
	if n := total(t, h, tok); n != 1 {
		t.Errorf("%d events stored, want 1 (the padded bundle)", n)
	}
}

// TestFHIRNotificationShape: POST /notification takes only what the
// OpenCRVS v1 Event Notification API takes (400 otherwise, naming the
// rule), while POST /fhir takes the same bundles.
func TestFHIRNotificationShape(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	tok := adminToken(h)
	birth := readFile(t, v1BirthFile)
	setTask := func(f func(task map[string]any)) []byte {
		return editJSON(t, fresh(t, birth), func(m map[string]any) { f(firstOf(m, "Task")) })
	}
	tests := []struct {
		name      string
		body      []byte
		want      string
		fhirTakes bool // POST /fhir creates an event from it
	}{
		{"Task not draft", setTask(func(task map[string]any) { task["status"] = "ready" }), `must be "draft"`, true},
		{"no regLastOffice", withoutOffice(t, fresh(t, birth)), "regLastOffice", true},
		{"regLastOffice not an office", setTask(func(task map[string]any) {
			for _, e := range task["extension"].([]any) {
				if em := e.(map[string]any); strings.HasSuffix(em["url"].(string), "/regLastOffice") {
					em["valueReference"] = map[string]any{"reference": "Location/" + hubtest.FacilityIbombo}
				}
			}
		}), "not a CRVS office", true},
		{"no Task", editJSON(t, fresh(t, birth), func(m map[string]any) { dropEntries(m, isType("Task")) }), "Task", true},
		{"Composition not first", editJSON(t, fresh(t, birth), func(m map[string]any) {
			e := entries(m)
			e[0], e[1] = e[1], e[0]
		}), "first entry", false},
		{"collection bundle", editJSON(t, fresh(t, birth), func(m map[string]any) { m["type"] = "collection" }), "document", false},
	}
	want := total(t, h, tok)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantOutcome(t, postFHIR(t, h, pathNotification, tok, tc.body, fhirJSON), http.StatusBadRequest, tc.want)
			if n := total(t, h, tok); n != want {
				t.Fatalf("%d events stored after a refused notification, want %d", n, want)
			}
			if !tc.fhirTakes {
				return
			}
			res := postFHIR(t, h, pathFHIR+"?createdAtLocation="+hubtest.OfficeIbombo, tok, tc.body, fhirJSON)
			created(t, res, http.StatusCreated)
			want++
		})
	}
}

// ingestCase is one bundle a route must turn into an event.
type ingestCase struct {
	name, path, family, eventType string
	body                          []byte
	fields                        map[string]any // declaration fields to check
}

func v1Cases(t *testing.T) []ingestCase {
	birth, death := readFile(t, v1BirthFile), readFile(t, v1DeathFile)
	birthFields := map[string]any{
		"child.name":   map[string]any{"firstname": "Tendai", "surname": "Phiri"},
		"child.gender": "female", "child.dob": "2024-05-10", "mother.nid": "4455667788",
	}
	deathFields := map[string]any{
		"deceased.name":   map[string]any{"firstname": "Joseph", "surname": "Banda"},
		"deceased.gender": "male", "eventDetails.date": "2024-03-01", "deceased.nid": "9988776655",
	}
	var cs []ingestCase
	for _, path := range []string{pathFHIR, pathNotification} {
		cs = append(cs,
			ingestCase{"v1 birth " + path, path, familyV1Birth, "birth", fresh(t, birth), birthFields},
			ingestCase{"v1 death " + path, path, familyV1Death, "death", fresh(t, death), deathFields})
	}
	return cs
}

// TestFHIRIngest: each bundle family becomes an event through the real
// server: 201, Location, an OperationOutcome naming the event and its
// tracking id, the mapped fields on the event; a resent bundle answers
// 200 with the same event and stores nothing more.
func TestFHIRIngest(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	for _, tc := range v1Cases(t) {
		t.Run(tc.name, func(t *testing.T) {
			requireFamily(t, h, tc.family)
			before := total(t, h, tok)
			res := postFHIR(t, h, tc.path, tok, tc.body, fhirJSON)
			id, oo := created(t, res, http.StatusCreated)
			ev, decl := declared(t, h, tok, id)
			if ev.Type != tc.eventType {
				t.Errorf("event type %s, want %s", ev.Type, tc.eventType)
			}
			if !strings.Contains(oo.Issue[0].Diagnostics, ev.TrackingID) {
				t.Errorf("the outcome does not name tracking id %s: %s", ev.TrackingID, oo.Issue[0].Diagnostics)
			}
			if st := core.Derive(ev).Status; st != core.EventNotified {
				t.Errorf("status %s, want NOTIFIED", st)
			}
			wantFields(t, decl, tc.fields)
			if got := notifyAt(ev); got != hubtest.OfficeIbombo {
				t.Errorf("office %s, want the bundle's regLastOffice %s", got, hubtest.OfficeIbombo)
			}
			// resent: same event, nothing stored
			again := postFHIR(t, h, tc.path, tok, tc.body, fhirJSON)
			id2, oo2 := created(t, again, http.StatusOK)
			if id2 != id {
				t.Fatalf("resend answered event %s, want %s", id2, id)
			}
			if !strings.Contains(oo2.Issue[0].Diagnostics, "already received") {
				t.Errorf("the resend's outcome does not say so: %s", again.Body)
			}
			if n := total(t, h, tok); n != before+1 {
				t.Errorf("%d events, want %d", n, before+1)
			}
			if got := len(stored(t, h, id).Actions); got != len(ev.Actions) {
				t.Errorf("the resend added actions: %d, want %d", got, len(ev.Actions))
			}
		})
	}
}

// TestFHIRSameBundleBothRoutes: one bundle posted to /notification and to
// /fhir is one notification (same transaction id), whatever the route.
func TestFHIRSameBundleBothRoutes(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	tok := adminToken(h)
	body := fresh(t, readFile(t, v1BirthFile))
	id, _ := created(t, postFHIR(t, h, pathNotification, tok, body, fhirJSON), http.StatusCreated)
	id2, _ := created(t, postFHIR(t, h, pathFHIR, tok, body, ""), http.StatusOK)
	if id != id2 {
		t.Fatalf("two events %s and %s for one bundle", id, id2)
	}
	if n := total(t, h, tok); n != 1 {
		t.Errorf("%d events", n)
	}
}

// TestFHIRIdentifierReuse: a Bundle.identifier is the sending system's own
// key. Another client sending the same bundle makes its own record (never
// "already received" pointing at someone else's); the same client sending
// the identifier again with other content gets a 409 OperationOutcome and
// nothing changes.
func TestFHIRIdentifierReuse(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	tokA, tokB := adminToken(h), adminToken(h)
	body := fresh(t, readFile(t, v1BirthFile))
	idA, _ := created(t, postFHIR(t, h, pathFHIR, tokA, body, fhirJSON), http.StatusCreated)
	idB, _ := created(t, postFHIR(t, h, pathFHIR, tokB, body, fhirJSON), http.StatusCreated)
	if idA == idB {
		t.Fatalf("two clients' bundles with one identifier are one event %s", idA)
	}
	changed := editJSON(t, body, func(m map[string]any) { childPatient(m)["birthDate"] = "2024-01-03" })
	res := postFHIR(t, h, pathFHIR, tokA, changed, fhirJSON)
	wantOutcome(t, res, http.StatusConflict, "child.dob")
	if n := total(t, h, tokA); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
	if dob := string(core.Derive(stored(t, h, idA)).Declaration["child.dob"]); strings.Contains(dob, "2024-01-03") {
		t.Errorf("the conflicting resend changed child.dob to %s", dob)
	}
}

// TestFHIRResendConflict: a bundle resent under its identifier is safe on
// every ingestion route. The same content, however spelled (entries
// reordered, another Bundle.timestamp or meta.lastUpdated, another
// MessageHeader around the same document), answers 200 with the first
// event's Location; other content (a renamed child, another office,
// another type of event) is a 409 conflict naming what differs and what
// to do, never a 200 that drops the correction, and nothing changes.
// $process-message answers the conflict with a fatal-error response.
func TestFHIRResendConflict(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	requireFamily(t, h, familyV1Death)
	tok := adminToken(h)
	birth, death := readFile(t, v1BirthFile), readFile(t, v1DeathFile)
	renamed := func(m map[string]any) {
		childPatient(m)["name"] = []any{map[string]any{"use": "en", "given": []any{"Chipo"}, "family": "Phiri"}}
	}
	whatToDo := []string{"already received", "new identifier", "not supported yet", "Nothing was changed"}
	tests := []struct {
		name   string
		resend func(t *testing.T, doc []byte) []byte
		status int      // 200: the same notification; 409: other content
		want   []string // in the conflict's diagnostics
	}{
		{"entries reordered", func(t *testing.T, doc []byte) []byte {
			return editJSON(t, doc, func(m map[string]any) {
				e := entries(m) // the Composition stays first, as the Event Notification API wants
				slices.Reverse(e[1:])
			})
		}, http.StatusOK, nil},
		{"another timestamp and lastUpdated", func(t *testing.T, doc []byte) []byte {
			return editJSON(t, doc, func(m map[string]any) {
				m["timestamp"] = "2025-01-02T03:04:05Z"
				m["meta"] = map[string]any{"lastUpdated": "2025-01-02T03:04:05Z"}
			})
		}, http.StatusOK, nil},
		{"child renamed", func(t *testing.T, doc []byte) []byte { return editJSON(t, doc, renamed) },
			http.StatusConflict, append([]string{"declaration field child.name "}, whatToDo...)},
		{"child renamed and other gender", func(t *testing.T, doc []byte) []byte {
			return editJSON(t, doc, func(m map[string]any) { renamed(m); childPatient(m)["gender"] = "male" })
		}, http.StatusConflict, []string{"declaration fields child.gender, child.name "}},
		{"another office", func(t *testing.T, doc []byte) []byte {
			return editJSON(t, doc, func(m map[string]any) {
				for _, e := range firstOf(m, "Task")["extension"].([]any) {
					if ext := e.(map[string]any); strings.HasSuffix(ext["url"].(string), "/regLastOffice") {
						ext["valueReference"] = map[string]any{"reference": "Location/" + hubtest.OfficeHQ}
					}
				}
			})
		}, http.StatusConflict, append([]string{"office differs", hubtest.OfficeIbombo, hubtest.OfficeHQ}, whatToDo...)},
		{"a death under the birth's identifier", func(t *testing.T, doc []byte) []byte {
			var first map[string]any
			if err := json.Unmarshal(doc, &first); err != nil {
				t.Fatal(err)
			}
			return editJSON(t, death, func(m map[string]any) { m["identifier"] = first["identifier"] })
		}, http.StatusConflict, append([]string{"event type differs (it was a birth, this bundle is a death)"}, whatToDo...)},
	}
	for _, route := range []string{pathFHIR, pathNotification, pathProcessMessage} {
		// post sends a document, inside a message with a new MessageHeader
		// id on $process-message; it returns the answer and that id
		post := func(t *testing.T, doc []byte) (*hubtest.Response, string) {
			if route != pathProcessMessage {
				return postFHIR(t, h, route, tok, doc, fhirJSON), ""
			}
			headerID := uuid.NewString()
			return postFHIR(t, h, route, tok, messageOf(t, doc, headerID), fhirJSON), headerID
		}
		for _, tc := range tests {
			t.Run(route+" "+tc.name, func(t *testing.T) {
				doc := fresh(t, birth)
				res, headerID := post(t, doc)
				var id string
				if route == pathProcessMessage {
					wantResponse(t, res, http.StatusOK, headerID, "ok")
					m := locationRe.FindStringSubmatch(res.Header.Get("Location"))
					if m == nil {
						t.Fatalf("Location %q", res.Header.Get("Location"))
					}
					id = m[1]
				} else {
					id, _ = created(t, res, http.StatusCreated)
				}
				before, n := mustJSON(t, stored(t, h, id)), total(t, h, tok)

				res, headerID = post(t, tc.resend(t, doc))
				var oo fhirOutcome
				switch {
				case route == pathProcessMessage && tc.status == http.StatusOK:
					wantResponse(t, res, http.StatusOK, headerID, "ok")
				case route == pathProcessMessage:
					oo = wantResponse(t, res, tc.status, headerID, "fatal-error")
				case tc.status == http.StatusOK:
					created(t, res, http.StatusOK)
				default:
					oo = wantOutcome(t, res, tc.status)
				}
				if tc.status == http.StatusOK {
					if got := res.Header.Get("Location"); got != httpapi.EventsPrefix+"/events/"+id {
						t.Errorf("resend Location %q, want the first event %s", got, id)
					}
				} else {
					if oo.Issue[0].Code != "conflict" || oo.Issue[0].Severity != "error" {
						t.Errorf("first issue %+v, want an error of code conflict", oo.Issue[0])
					}
					for _, w := range tc.want {
						if !strings.Contains(oo.text(), w) {
							t.Errorf("the conflict does not say %q: %s", w, oo.text())
						}
					}
					if res.Header.Get("Location") != "" {
						t.Errorf("a conflict with a Location %q", res.Header.Get("Location"))
					}
				}
				if after := mustJSON(t, stored(t, h, id)); !bytes.Equal(after, before) {
					t.Errorf("the resend changed the event:\nbefore %s\nafter  %s", before, after)
				}
				if got := total(t, h, tok); got != n {
					t.Errorf("%d events after the resend, want %d", got, n)
				}
			})
		}
	}
}

// TestFHIROffice: the event's office is the bundle's, else the
// createdAtLocation query parameter, else the client's default office;
// none is a 400 that says so.
func TestFHIROffice(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	all := []string{"type=record.create", "type=record.notify", "type=record.read", "type=record.search"}
	ilanga := h.ClientToken(hubtest.OfficeIlanga, all...)
	noOffice := h.ClientToken("", all...)
	birth := readFile(t, v1BirthFile)
	tests := []struct {
		name, tok, query string
		body             []byte
		office           string // "" = refused
		status           int
		want             string
	}{
		{"bundle's regLastOffice first", noOffice, "?createdAtLocation=" + hubtest.OfficeHQ, fresh(t, birth), hubtest.OfficeIbombo, 201, ""},
		{"query parameter next", noOffice, "?createdAtLocation=" + hubtest.OfficeHQ, withoutOffice(t, fresh(t, birth)), hubtest.OfficeHQ, 201, ""},
		// a client with an office may only notify at it: a bundle or query
		// naming another office is refused, naming it and where it came from
		{"bundle's office not the client's", ilanga, "", fresh(t, birth), "", 403, hubtest.OfficeIbombo + " is not this client's office (" + hubtest.OfficeIlanga + ")"},
		{"query office not the client's", ilanga, "?createdAtLocation=" + hubtest.OfficeHQ, withoutOffice(t, fresh(t, birth)), "", 403, hubtest.OfficeHQ},
		{"a facility as query parameter", noOffice, "?createdAtLocation=" + hubtest.FacilityIlanga, withoutOffice(t, fresh(t, birth)), hubtest.FacilityIlanga, 201, ""},
		{"client's default office last", ilanga, "", withoutOffice(t, fresh(t, birth)), hubtest.OfficeIlanga, 201, ""},
		{"none at all", noOffice, "", withoutOffice(t, fresh(t, birth)), "", 400, "office"},
		{"query parameter not a location", noOffice, "?createdAtLocation=" + uuid.NewString(), withoutOffice(t, fresh(t, birth)), "", 400, "createdAtLocation query parameter"},
		{"query parameter an admin area", noOffice, "?createdAtLocation=" + hubtest.DistrictIbombo, withoutOffice(t, fresh(t, birth)), "", 400, "location"},
		{"query parameter not a uuid", noOffice, "?createdAtLocation=ibombo", withoutOffice(t, fresh(t, birth)), "", 400, "UUID"},
	}
	want := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := postFHIR(t, h, pathFHIR+tc.query, tc.tok, tc.body, fhirJSON)
			if tc.office == "" {
				wantOutcome(t, res, tc.status, tc.want)
			} else {
				id, _ := created(t, res, tc.status)
				if got := notifyAt(stored(t, h, id)); got != tc.office {
					t.Errorf("office %s, want %s", got, tc.office)
				}
				want++
			}
			if n := total(t, h, ilanga); n != want {
				t.Errorf("%d events, want %d", n, want)
			}
		})
	}
}

// messageOf wraps a document bundle in a message bundle whose
// MessageHeader (id headerID) focuses on it.
func messageOf(t *testing.T, doc []byte, headerID string) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	docURL := "urn:uuid:" + uuid.NewString()
	return mustJSON(t, map[string]any{
		"resourceType": "Bundle", "id": uuid.NewString(), "type": "message", "timestamp": "2024-05-11T09:30:00Z",
		"entry": []any{
			map[string]any{"fullUrl": "urn:uuid:" + headerID, "resource": map[string]any{
				"resourceType": "MessageHeader", "id": headerID,
				"eventCoding": map[string]any{"system": "http://opencrvs.org/specs/event", "code": "birth-notification"},
				"source":      map[string]any{"name": "Ibombo HIS", "endpoint": "http://his.example/fhir"},
				"focus":       []any{map[string]any{"reference": docURL}},
			}},
			map[string]any{"fullUrl": docURL, "resource": d},
		},
	})
}

// responseMessage is the part of a $process-message answer the tests read.
type responseMessage struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

// wantResponse checks a response message: status, a MessageHeader
// answering requestID with code, and the OperationOutcome it points at.
func wantResponse(t *testing.T, res *hubtest.Response, status int, requestID, code string) fhirOutcome {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d; %.600s", res.Status, status, res.Body)
	}
	wantFHIRType(t, res)
	var rm responseMessage
	res.JSON(&rm)
	if rm.ResourceType != "Bundle" || rm.Type != "message" || len(rm.Entry) != 2 {
		t.Fatalf("not a response message with 2 entries: %s", res.Body)
	}
	var mh struct {
		ResourceType string          `json:"resourceType"`
		EventCoding  json.RawMessage `json:"eventCoding"`
		Source       struct {
			Endpoint string `json:"endpoint"`
		} `json:"source"`
		Destination []struct {
			Endpoint string `json:"endpoint"`
		} `json:"destination"`
		Response struct {
			Identifier string `json:"identifier"`
			Code       string `json:"code"`
			Details    struct {
				Reference string `json:"reference"`
			} `json:"details"`
		} `json:"response"`
	}
	if err := json.Unmarshal(rm.Entry[0].Resource, &mh); err != nil {
		t.Fatal(err)
	}
	if mh.ResourceType != "MessageHeader" || mh.Response.Identifier != requestID || mh.Response.Code != code {
		t.Fatalf("MessageHeader %s, want response to %s with code %s", rm.Entry[0].Resource, requestID, code)
	}
	if len(mh.EventCoding) == 0 || mh.Source.Endpoint == "" || len(mh.Destination) != 1 || mh.Destination[0].Endpoint != "http://his.example/fhir" {
		t.Errorf("MessageHeader lacks event, source or destination: %s", rm.Entry[0].Resource)
	}
	if mh.Response.Details.Reference != rm.Entry[1].FullURL {
		t.Errorf("response.details %q does not point at the OperationOutcome entry %q", mh.Response.Details.Reference, rm.Entry[1].FullURL)
	}
	var oo fhirOutcome
	if err := json.Unmarshal(rm.Entry[1].Resource, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("second entry is not an OperationOutcome: %s", rm.Entry[1].Resource)
	}
	if isErr := oo.has("error", "fatal"); isErr != (code != "ok") {
		t.Errorf("code %s with outcome %s", code, rm.Entry[1].Resource)
	}
	return oo
}

// TestFHIRProcessMessage: $process-message answers a response message:
// ok (200) with the event, the same for a resend, fatal-error (4xx) for a
// message whose content cannot be used; a body that is not a message is
// a bare OperationOutcome.
func TestFHIRProcessMessage(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	tok := adminToken(h)
	birth := readFile(t, v1BirthFile)

	headerID := uuid.NewString()
	msg := messageOf(t, fresh(t, birth), headerID)
	res := postFHIR(t, h, pathProcessMessage, tok, msg, fhirJSON)
	oo := wantResponse(t, res, http.StatusOK, headerID, "ok")
	m := locationRe.FindStringSubmatch(res.Header.Get("Location"))
	if m == nil || !strings.Contains(oo.Issue[0].Diagnostics, m[1]) {
		t.Fatalf("Location %q / outcome %s: the event is not named", res.Header.Get("Location"), oo.text())
	}
	_, decl := declared(t, h, tok, m[1])
	wantFields(t, decl, map[string]any{"child.name": map[string]any{"firstname": "Tendai", "surname": "Phiri"}})

	// resent: ok again, same event
	res = postFHIR(t, h, pathProcessMessage, tok, msg, fhirJSON)
	wantResponse(t, res, http.StatusOK, headerID, "ok")
	if res.Header.Get("Location") != "/api/events/events/"+m[1] {
		t.Errorf("resend Location %q", res.Header.Get("Location"))
	}

	// unusable content in a readable message: fatal-error with a 4xx
	badID := uuid.NewString()
	bad := messageOf(t, editJSON(t, fresh(t, birth), func(m map[string]any) { childPatient(m)["birthDate"] = "2024-02-30" }), badID)
	res = postFHIR(t, h, pathProcessMessage, tok, bad, fhirJSON)
	if res.Status < 400 || res.Status > 499 {
		t.Fatalf("status %d, want 4xx; %s", res.Status, res.Body)
	}
	wantResponse(t, res, res.Status, badID, "fatal-error")

	// no office anywhere: fatal-error, 400
	noOffice := h.ClientToken("", "type=record.create", "type=record.notify")
	noOfficeID := uuid.NewString()
	res = postFHIR(t, h, pathProcessMessage, noOffice, messageOf(t, withoutOffice(t, fresh(t, birth)), noOfficeID), fhirJSON)
	if o := wantResponse(t, res, http.StatusBadRequest, noOfficeID, "fatal-error"); !strings.Contains(o.text(), "office") {
		t.Errorf("outcome %s does not mention the office", o.text())
	}

	// not messages: bare OperationOutcomes
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"a document", fresh(t, birth), "message"},
		{"not JSON", []byte("{"), "JSON"},
		{"a Patient", []byte(`{"resourceType":"Patient"}`), "Patient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := postFHIR(t, h, pathProcessMessage, tok, tc.body, fhirJSON)
			if res.Status < 400 || res.Status > 499 {
				t.Fatalf("status %d; %s", res.Status, res.Body)
			}
			wantOutcome(t, res, res.Status, tc.want)
		})
	}
	if n := total(t, h, tok); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

// TestFHIRGetBundle: GET /fhir/Bundle/{id} answers the event as a FHIR
// document (Composition first, the child as a Patient) and records a READ;
// an unknown event is a 404 OperationOutcome.
func TestFHIRGetBundle(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireMapper(t, h)
	tok := adminToken(h)
	ev := h.Notify(tok, "birth", newTx(), hubtest.BirthDeclaration("Ada", "Banda"))
	res := h.Do("GET", "/fhir/Bundle/"+ev.ID, tok, nil)
	wantOK(t, res)
	wantFHIRType(t, res)
	var b map[string]any
	res.JSON(&b)
	if b["resourceType"] != "Bundle" || b["type"] != "document" || len(entries(b)) < 2 {
		t.Fatalf("not a document bundle: %.600s", res.Body)
	}
	comp := resourceAt(b, 0)
	if comp["resourceType"] != "Composition" {
		t.Fatalf("first entry is %v, want a Composition", comp["resourceType"])
	}
	found := false
	for i := range entries(b) {
		r := resourceAt(b, i)
		if r["resourceType"] != "Patient" {
			continue
		}
		js := string(mustJSON(t, r["name"]))
		found = found || (strings.Contains(js, `"Ada"`) && strings.Contains(js, `"Banda"`))
	}
	if !found {
		t.Errorf("no Patient carries the child's name Ada Banda: %.1000s", res.Body)
	}
	if got := shape(stored(t, h, ev.ID)); got[len(got)-1] != "READ/Accepted" {
		t.Errorf("actions %v: the read is not recorded", got)
	}
	wantOutcome(t, h.Do("GET", "/fhir/Bundle/"+uuid.NewString(), tok, nil), http.StatusNotFound, "not found")
	wantOutcome(t, h.Do("GET", "/fhir/Bundle/not-an-id", tok, nil), http.StatusNotFound)
}

// TestFHIRRoundTrip: each bundle posted, read back with GET
// /fhir/Bundle/{id} and posted again (a new document, so a new event)
// gives an event with exactly the same declaration: every mapped field
// survives, none is invented.
func TestFHIRRoundTrip(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireMapper(t, h)
	tok := adminToken(h)
	sources := []string{v1BirthFile, v1DeathFile}
	more, _ := filepath.Glob(filepath.Join(mappingsTestdata, "bundles", "*.json"))
	for _, f := range more {
		if fileExists(filepath.Join(mappingsTestdata, "golden", strings.TrimSuffix(filepath.Base(f), ".json")+".declaration.json")) {
			sources = append(sources, f)
		}
	}
	for _, src := range sources {
		t.Run(filepath.Base(src), func(t *testing.T) {
			id, _ := created(t, postFHIR(t, h, pathFHIR, tok, fresh(t, readFile(t, src)), fhirJSON), http.StatusCreated)
			ev, first := declared(t, h, tok, id)
			res := h.Do("GET", "/fhir/Bundle/"+id, tok, nil)
			wantOK(t, res)
			id2, _ := created(t, postFHIR(t, h, pathFHIR, tok, res.Body, fhirJSON), http.StatusCreated)
			if id2 == id {
				t.Fatal("the exported document was taken for a resend of the original bundle")
			}
			ev2, second := declared(t, h, tok, id2)
			if ev2.Type != ev.Type {
				t.Errorf("type %s after the round trip, was %s", ev2.Type, ev.Type)
			}
			if !jsonEqual(t, mustJSON(t, first), mustJSON(t, second)) {
				t.Errorf("declaration after the round trip\n%s\nwas\n%s", mustJSON(t, second), mustJSON(t, first))
			}
			if notifyAt(ev2) != notifyAt(ev) {
				t.Errorf("office %s after the round trip, was %s", notifyAt(ev2), notifyAt(ev))
			}
		})
	}
}

// TestFHIREngineErrors: what the engine refuses is an OperationOutcome
// with the engine's status (an event option the client lacks: 403), and
// nothing is stored; the OpenCRVS v1 scope notification-api is enough.
func TestFHIREngineErrors(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	admin := adminToken(h)
	deathOnly := h.ClientToken(hubtest.OfficeIbombo, "type=record.create&event=death", "type=record.notify&event=death")
	res := postFHIR(t, h, pathFHIR, deathOnly, fresh(t, readFile(t, v1BirthFile)), fhirJSON)
	wantOutcome(t, res, http.StatusForbidden, "event=birth")
	if n := total(t, h, admin); n != 0 {
		t.Errorf("%d events", n)
	}
	// The OpenCRVS v1 scope notification-api is enough.
	v1 := h.ClientToken(hubtest.OfficeIbombo, "notification-api")
	created(t, postFHIR(t, h, pathNotification, v1, fresh(t, readFile(t, v1BirthFile)), fhirJSON), http.StatusCreated)

	// A death bundle reusing a birth bundle's identifier is the engine's
	// 409 (the transaction id is taken), as an OperationOutcome that says
	// so in the bundle's terms.
	requireFamily(t, h, familyV1Death)
	ident := map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + uuid.NewString()}
	withIdent := func(raw []byte) []byte {
		return editJSON(t, raw, func(m map[string]any) { m["identifier"] = ident })
	}
	created(t, postFHIR(t, h, pathFHIR, admin, withIdent(readFile(t, v1BirthFile)), fhirJSON), http.StatusCreated)
	oo := wantOutcome(t, postFHIR(t, h, pathFHIR, admin, withIdent(readFile(t, v1DeathFile)), fhirJSON), http.StatusConflict,
		"identifier", "the event type differs (it was a birth, this bundle is a death)")
	if oo.Issue[0].Code != "conflict" {
		t.Errorf("issue code %s, want conflict", oo.Issue[0].Code)
	}
	if n := total(t, h, admin); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
}

// TestFHIROpenAPI: the FHIR routes are documented with FHIR media types
// and OperationOutcome errors.
func TestFHIROpenAPI(t *testing.T) {
	t.Parallel()
	h := start(t)
	res := h.Do("GET", "/api/events/openapi.json", "", nil)
	wantOK(t, res)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			RequestBody struct {
				Content map[string]any `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	res.JSON(&doc)
	for _, s := range []string{"Bundle", "OperationOutcome", "CapabilityStatement"} {
		if doc.Components.Schemas[s] == nil {
			t.Errorf("schema %s missing", s)
		}
	}
	for _, p := range []string{pathFHIR, pathProcessMessage, pathNotification} {
		op := doc.Paths[p]["post"]
		if op.RequestBody.Content[fhirJSON] == nil || op.RequestBody.Content["application/json"] == nil {
			t.Errorf("%s: request media types %v", p, op.RequestBody.Content)
		}
		if strings.ContainsAny(op.OperationID, "$-") {
			t.Errorf("%s: operationId %q", p, op.OperationID)
		}
		r403, ok := op.Responses["403"].Content[fhirJSON]
		if !ok || !strings.Contains(string(mustJSON(t, r403.Schema)), "OperationOutcome") {
			t.Errorf("%s: 403 is not documented as an OperationOutcome: %+v", p, op.Responses["403"])
		}
	}
	for _, p := range []string{pathFHIR, pathNotification} {
		if _, ok := doc.Paths[p]["post"].Responses["201"]; !ok {
			t.Errorf("%s: no 201 documented", p)
		}
	}
	if _, ok := doc.Paths["/fhir/Bundle/{eventId}"]["get"].Responses["404"]; !ok {
		t.Error("GET /fhir/Bundle/{eventId}: no 404 documented")
	}
}

// mappingsTestdata is the mappings package's own bundles and goldens.
const mappingsTestdata = "../../mappings/testdata"

// goldenMapping is a mappings golden declaration file.
type goldenMapping struct {
	Family        string          `json:"family"`
	EventType     string          `json:"eventType"`
	TransactionID string          `json:"transactionId"`
	Office        string          `json:"office"`
	IsMessage     bool            `json:"isMessage"`
	Declaration   json.RawMessage `json:"declaration"`
	Issues        json.RawMessage `json:"issues"`
}

var engineTransactionIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,189}$`)

// TestFHIRMappingsTestdata posts the mappings package's bundles through
// the real server: each one with a golden declaration becomes an event
// holding exactly that declaration, of that type, at the golden office,
// keyed by the golden transaction id, with the mapper's issues after the
// first one; a message also goes through $process-message (same event);
// one without a golden (fetal death) and every broken bundle is a 4xx
// whose OperationOutcome is the mapper's golden outcome, verbatim.
func TestFHIRMappingsTestdata(t *testing.T) {
	t.Parallel()
	bundles, _ := filepath.Glob(filepath.Join(mappingsTestdata, "bundles", "*.json"))
	broken, _ := filepath.Glob(filepath.Join(mappingsTestdata, "broken", "*.json"))
	if len(bundles)+len(broken) == 0 {
		t.Skip("mappings/testdata has no bundles yet")
	}
	h := start(t)
	requireMapper(t, h)
	tok := adminToken(h)
	made := 0
	for _, f := range bundles {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw := readFile(t, f)
			gb, err := os.ReadFile(filepath.Join(mappingsTestdata, "golden", name+".declaration.json"))
			if err != nil { // no golden: the mapper refuses it
				res := postFHIR(t, h, pathFHIR, tok, raw, fhirJSON)
				if res.Status < 400 || res.Status > 499 {
					t.Fatalf("status %d, want 4xx for a bundle without a golden declaration; %s", res.Status, res.Body)
				}
				wantOutcome(t, res, res.Status)
				return
			}
			var g goldenMapping
			if err := json.Unmarshal(gb, &g); err != nil {
				t.Fatal(err)
			}
			requireFamily(t, h, g.Family)
			res := postFHIR(t, h, pathFHIR, tok, raw, fhirJSON)
			id, oo := created(t, res, http.StatusCreated)
			made++
			ev := stored(t, h, id)
			if ev.Type != g.EventType {
				t.Errorf("event type %s, want %s", ev.Type, g.EventType)
			}
			if !jsonEqual(t, mustJSON(t, core.Derive(ev).Declaration), g.Declaration) {
				t.Errorf("declaration\n%s\nwant (golden)\n%s", mustJSON(t, core.Derive(ev).Declaration), g.Declaration)
			}
			office := g.Office
			if office == "" {
				office = hubtest.OfficeIbombo // the client's default
			}
			if got := notifyAt(ev); got != office {
				t.Errorf("office %s, want %s", got, office)
			}
			if engineTransactionIDRe.MatchString(g.TransactionID) && ev.FindByTransaction(ev.Actions[0].CreatedBy, g.TransactionID, core.ActionNotify) == nil {
				t.Errorf("no NOTIFY with the mapper's transaction id %s", g.TransactionID)
			}
			issues := mustJSON(t, oo.Issue[1:])
			if string(g.Issues) == "null" {
				g.Issues = []byte("[]")
			}
			if !jsonEqual(t, issues, g.Issues) {
				t.Errorf("issues after the first %s, want the mapper's %s", issues, g.Issues)
			}
			if g.IsMessage {
				var rm responseMessage
				mres := postFHIR(t, h, pathProcessMessage, tok, raw, fhirJSON)
				if mres.Status != http.StatusOK || mres.Header.Get("Location") != "/api/events/events/"+id {
					t.Errorf("$process-message: %d, Location %q, want 200 and the same event; %s", mres.Status, mres.Header.Get("Location"), mres.Body)
				}
				mres.JSON(&rm)
				if rm.Type != "message" {
					t.Errorf("$process-message answered %s", mres.Body)
				}
			}
		})
	}
	for _, f := range broken {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run("broken "+name, func(t *testing.T) {
			// A client of its own: a broken variant shares its good twin's
			// identifier, and the same client resending an identifier with
			// other content is a conflict (TestFHIRIdentifierReuse).
			tok := adminToken(h)
			res := postFHIR(t, h, pathFHIR, tok, readFile(t, f), fhirJSON)
			if res.Status >= 500 {
				t.Fatalf("status %d for bad input; %s", res.Status, res.Body)
			}
			golden, err := os.ReadFile(filepath.Join(mappingsTestdata, "golden", "broken", name+".outcome.json"))
			if err != nil {
				if res.Status < 400 {
					t.Fatalf("status %d and no golden outcome; %s", res.Status, res.Body)
				}
				wantOutcome(t, res, res.Status)
				return
			}
			var g fhirOutcome
			if err := json.Unmarshal(golden, &g); err != nil {
				t.Fatal(err)
			}
			if !g.has("error", "fatal") { // usable with warnings: an event (a resend when it shares its good twin's identifier)
				if res.Status != http.StatusCreated && res.Status != http.StatusOK {
					t.Fatalf("status %d for a bundle the mapper only warns about; %s", res.Status, res.Body)
				}
				oo := wantOutcome(t, res, res.Status)
				if !jsonEqual(t, mustJSON(t, oo.Issue[1:]), mustJSON(t, g.Issue)) {
					t.Errorf("issues after the first\n%s\nwant the mapper's\n%s", mustJSON(t, oo.Issue[1:]), mustJSON(t, g.Issue))
				}
				if res.Status == http.StatusCreated {
					made++
				}
				return
			}
			if res.Status < 400 || res.Status > 499 {
				t.Fatalf("status %d, want 4xx; %s", res.Status, res.Body)
			}
			wantOutcome(t, res, res.Status)
			if !jsonEqual(t, res.Body, golden) {
				t.Errorf("outcome\n%s\nwant the mapper's\n%s", res.Body, golden)
			}
		})
	}
	if n := total(t, h, tok); n != made {
		t.Errorf("%d events stored, want %d", n, made)
	}
}

// TestFHIRConcurrentResend: the same bundle posted 16 times at once is one
// event; exactly one answer is a 201 (the engine says which request created
// it), every other a 200 naming it, never an error.
func TestFHIRConcurrentResend(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	tok := adminToken(h)
	body := fresh(t, readFile(t, v1BirthFile))
	const n = 16
	type answer struct {
		status   int
		location string
		body     string
	}
	answers := make(chan answer, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := http.NewRequest("POST", h.URL+pathFHIR, bytes.NewReader(body))
			if err != nil {
				answers <- answer{body: err.Error()}
				return
			}
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("Content-Type", fhirJSON)
			res, err := h.Client.Do(r)
			if err != nil {
				answers <- answer{body: err.Error()}
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			answers <- answer{res.StatusCode, res.Header.Get("Location"), string(b)}
		}()
	}
	wg.Wait()
	close(answers)
	locations := map[string]bool{}
	createdN := 0
	for a := range answers {
		if a.status != http.StatusCreated && a.status != http.StatusOK {
			t.Errorf("status %d: %s", a.status, a.body)
			continue
		}
		if a.status == http.StatusCreated {
			createdN++
		}
		locations[a.location] = true
	}
	// the engine says which request created the event (inside its write
	// transaction): exactly one answers 201, every other one 200
	if len(locations) != 1 || createdN != 1 {
		t.Errorf("locations %v, %d answers 201: want one event, created once", locations, createdN)
	}
	if got := total(t, h, tok); got != 1 {
		t.Errorf("%d events stored, want 1", got)
	}
}

// TestFHIRNoServerErrors: every node of the v1 birth bundle (and of one
// mappings package bundle of each other shape, when present) replaced by a value of the
// wrong kind (null, a number, an object, a string) goes to POST /fhir (and
// the v1 bundle to POST /notification): each answer is a FHIR answer below
// 500 (a 4xx OperationOutcome or an event), never a server error.
func TestFHIRNoServerErrors(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireMapper(t, h)
	tok := adminToken(h)
	sources := []string{v1BirthFile}
	for _, name := range []string{"his-transaction-birth", "hl7-bfdr-birth", "hl7-vrdr-death-message"} { // one per shape
		if p := filepath.Join(mappingsTestdata, "bundles", name+".json"); fileExists(p) {
			sources = append(sources, p)
		}
	}
	for _, src := range sources {
		t.Run(filepath.Base(src), func(t *testing.T) {
			t.Parallel()
			routes := []string{pathFHIR}
			if src == v1BirthFile {
				routes = append(routes, pathNotification)
			}
			mutate(t, h, tok, readFile(t, src), routes)
		})
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func mutate(t *testing.T, h *hubtest.Hub, tok string, raw []byte, routes []string) {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// paths lists every node as a chain of keys and indexes.
	var paths [][]any
	var walk func(v any, at []any)
	walk = func(v any, at []any) {
		if len(at) > 0 {
			paths = append(paths, slices.Clone(at))
		}
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(c, append(at, k))
			}
		case []any:
			for i, c := range x {
				walk(c, append(at, i))
			}
		}
	}
	walk(doc, nil)
	if len(paths) < 50 {
		t.Fatalf("only %d nodes: the walk is broken", len(paths))
	}
	replace := func(v any, at []any, with any) any {
		var js any
		_ = json.Unmarshal(mustJSON(t, v), &js) // deep copy
		node := js
		for i, k := range at {
			last := i == len(at)-1
			switch c := node.(type) {
			case map[string]any:
				if last {
					c[k.(string)] = with
				} else {
					node = c[k.(string)]
				}
			case []any:
				if last {
					c[k.(int)] = with
				} else {
					node = c[k.(int)]
				}
			}
		}
		return js
	}
	worst := 0
	for i, at := range paths {
		with := []any{nil, 42, map[string]any{}, "x"}[i%4]
		body := mustJSON(t, replace(doc, at, with))
		for _, path := range routes {
			res := postFHIR(t, h, path, tok, body, fhirJSON)
			worst = max(worst, res.Status)
			if res.Status >= 500 {
				t.Errorf("%s with %v at %v: %d %s", path, with, at, res.Status, res.Body)
				continue
			}
			wantFHIRType(t, res)
			if res.Status >= 400 {
				wantOutcome(t, res, res.Status)
			}
		}
	}
	t.Logf("%d mutations, worst status %d", len(paths), worst)
}

// TestFHIRAudit: an event made from a bundle is in the audit trail like a
// native one: create and notify, by the client, with the request's
// correlation id and remote address.
func TestFHIRAudit(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	id, secret := h.NewClient("Ibombo HIS", hubtest.OfficeIbombo, "type=record.create", "type=record.notify")
	tok := h.Token(id, secret)
	r := request(t, h, "POST", pathFHIR, bytes.NewReader(fresh(t, readFile(t, v1BirthFile))),
		map[string]string{"Authorization": "Bearer " + tok, "Content-Type": fhirJSON, "X-Correlation-ID": "his-batch-42"})
	res := h.Send(r)
	eventID, _ := created(t, res, http.StatusCreated)
	if got := res.Header.Get("X-Correlation-ID"); got != "his-batch-42" {
		t.Errorf("correlation id echoed %q", got)
	}
	for _, op := range []string{"event.create", "action.NOTIFY"} {
		es := audits(t, h, eventID, op)
		if len(es) == 0 {
			t.Errorf("no %s audit entry", op)
			continue
		}
		if e := es[0]; e.ActorID != id || e.ActorType != core.UserTypeSystem || e.CorrelationID != "his-batch-42" || e.RemoteAddr == "" {
			t.Errorf("%s audit entry %+v", op, e)
		}
	}
}

// TestFHIRNotificationOddEntry: an entry with a field of an unexpected
// kind (an extension's valueReference as a string) does not hide the
// Task from the /notification and $process-message checks.
func TestFHIRNotificationOddEntry(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	tok := adminToken(h)
	odd := func() []byte {
		return editJSON(t, fresh(t, readFile(t, v1BirthFile)), func(m map[string]any) {
			obs := firstOf(m, "Observation")
			obs["extension"] = []any{map[string]any{"url": "http://example.org/odd", "valueReference": "not an object"}}
		})
	}
	created(t, postFHIR(t, h, pathNotification, tok, odd(), fhirJSON), http.StatusCreated)
	headerID := uuid.NewString()
	wantResponse(t, postFHIR(t, h, pathProcessMessage, tok, messageOf(t, odd(), headerID), fhirJSON), http.StatusOK, headerID, "ok")
}

// TestFHIRBirthWithADeath: a hospital birth notification whose mother
// died in childbirth is stored as the birth (it used to become the
// mother's death, and the birth was lost), with a warning naming the
// mother; twins in one bundle, and a death with another person's birth,
// are 422s naming every subject, and nothing is stored.
func TestFHIRBirthWithADeath(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, "his-transaction-birth")
	tok := adminToken(h)
	base := readFile(t, mappingsTestdata+"/bundles/his-collection-birth-patient-mother.json")

	maternal := editJSON(t, fresh(t, base), func(m map[string]any) {
		resourceAt(m, 1)["deceasedDateTime"] = "2026-04-10T09:15:00+02:00"
	})
	id, oo := created(t, postFHIR(t, h, pathFHIR, tok, maternal, fhirJSON), http.StatusCreated)
	ev, decl := declared(t, h, tok, id)
	if ev.Type != "birth" {
		t.Fatalf("stored a %s event for a birth notification", ev.Type)
	}
	wantFields(t, decl, map[string]any{"child.name": map[string]any{"firstname": "Natasha", "surname": "Lungu"}, "child.dob": "2026-04-10"})
	warned := false
	for _, is := range oo.Issue {
		warned = warned || (is.Severity == "warning" && slices.Contains(is.Expression, "Bundle.entry[1].resource") && strings.Contains(is.Diagnostics, "deceased"))
	}
	if !warned {
		t.Errorf("no warning says the mother (Bundle.entry[1].resource) died: %s", oo.text())
	}

	twins := editJSON(t, fresh(t, base), func(m map[string]any) {
		child := mustJSON(t, resourceAt(m, 0))
		var c2 map[string]any
		_ = json.Unmarshal(child, &c2)
		c2["name"] = []any{map[string]any{"family": "Lungu", "given": []any{"Natalia"}}}
		w := mustJSON(t, resourceAt(m, 3))
		var w2 map[string]any
		_ = json.Unmarshal(w, &w2)
		w2["subject"] = map[string]any{"reference": "urn:uuid:7c000000-0000-4000-8000-000000000009"}
		m["entry"] = append(entries(m),
			map[string]any{"fullUrl": "urn:uuid:7c000000-0000-4000-8000-000000000009", "resource": c2},
			map[string]any{"fullUrl": "urn:uuid:7c000000-0000-4000-8000-00000000000a", "resource": w2})
	})
	wantOutcome(t, postFHIR(t, h, pathFHIR, tok, twins, fhirJSON), http.StatusUnprocessableEntity, "Bundle.entry[0].resource", "Bundle.entry[4].resource", "one notification per child")

	both := fresh(t, readFile(t, mappingsTestdata+"/broken/his-birth-and-death.json"))
	wantOutcome(t, postFHIR(t, h, pathFHIR, tok, both, fhirJSON), http.StatusUnprocessableEntity, "birth", "death", "Bundle.entry[0].resource", "Bundle.entry[5].resource")

	if n := total(t, h, tok); n != 1 {
		t.Errorf("%d events, want 1 (the maternal-death birth)", n)
	}
}

// TestFHIRUpdateMessageRefused: an NCHS update (or void) message was
// mapped as a fresh notification: a 409 when its document carries the
// identifier of the record already held, a second copy of the birth when
// it carries none. Until updates are supported it is a 422 fatal-error
// naming MessageHeader.eventUri, and nothing changes.
func TestFHIRUpdateMessageRefused(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, "hl7-bfdr-birth")
	tok := adminToken(h)
	msg := readFile(t, mappingsTestdata+"/bundles/hl7-bfdr-birth-message.json")
	res := postFHIR(t, h, pathProcessMessage, tok, msg, fhirJSON)
	first := res.Header.Get("Location")
	if res.Status != http.StatusOK || first == "" {
		t.Fatalf("submission: %d %s", res.Status, res.Body)
	}
	for _, kind := range []string{"update", "void"} {
		t.Run(kind, func(t *testing.T) {
			headerID := uuid.NewString()
			upd := editJSON(t, msg, func(m map[string]any) {
				mh := resourceAt(m, 0)
				mh["id"] = headerID
				mh["eventUri"] = "http://nchs.cdc.gov/birth_submission_" + kind
				entries(m)[0].(map[string]any)["fullUrl"] = "urn:uuid:" + headerID
			})
			res := postFHIR(t, h, pathProcessMessage, tok, upd, fhirJSON)
			if res.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422; %s", res.Status, res.Body)
			}
			if res.Header.Get("Location") != "" {
				t.Errorf("a refused %s names an event: %s", kind, res.Header.Get("Location"))
			}
			var rm responseMessage
			res.JSON(&rm)
			if len(rm.Entry) != 2 || !strings.Contains(string(rm.Entry[1].Resource), "Bundle.entry[0].resource.eventUri") ||
				!strings.Contains(string(rm.Entry[1].Resource), "not supported yet") || !strings.Contains(string(rm.Entry[0].Resource), `"fatal-error"`) {
				t.Errorf("want a fatal-error response naming MessageHeader.eventUri: %s", res.Body)
			}
		})
	}
	if n := total(t, h, tok); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

// TestFHIRStrictJSON: a FHIR body is read as strictly as a native one: a
// key sent twice, bytes that are not UTF-8 and an unpaired surrogate in a
// name are a 400 OperationOutcome naming the element on every ingestion
// route (never a name stored with U+FFFD, never the last key winning),
// and nothing is stored.
func TestFHIRStrictJSON(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireMapper(t, h)
	requireFamily(t, h, familyV1Birth)
	tok := adminToken(h)
	birth := readFile(t, v1BirthFile)
	given := []byte(`"given":["Tendai"]`)
	cases := []struct {
		name, with, say string
	}{
		{"duplicate key", `"given":["Tendai"],"given":["Mallory"]`, "duplicate key 'given'"},
		{"invalid UTF-8", "\"given\":[\"Ten\xffdai\"]", "not valid UTF-8"},
		{"unpaired surrogate", `"given":["Ten\ud800dai"]`, `unpaired UTF-16 surrogate`},
	}
	for _, path := range []string{pathFHIR, pathNotification, pathProcessMessage} {
		for _, c := range cases {
			t.Run(path+" "+c.name, func(t *testing.T) {
				body := fresh(t, birth)
				if path == pathProcessMessage {
					body = messageOf(t, body, uuid.NewString())
				}
				if bytes.Count(body, given) != 1 {
					t.Fatalf("the example's child name is not %s once", given)
				}
				body = bytes.Replace(body, given, []byte(c.with), 1)
				res := postFHIR(t, h, path, tok, body, fhirJSON)
				if res.Status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400; %s", res.Status, res.Body)
				}
				wantFHIRType(t, res)
				if !bytes.Contains(res.Body, []byte(c.say)) || !bytes.Contains(res.Body, []byte(".resource.name[0].given")) ||
					!bytes.Contains(res.Body, []byte(`"Bundle.entry[`)) {
					t.Errorf("the answer does not say %q naming the element: %s", c.say, res.Body)
				}
			})
		}
	}
	if n := total(t, h, tok); n != 0 {
		t.Errorf("%d events stored", n)
	}
}

// TestFHIRStrictJSONNumericKey: a key spelled like a number is named as a
// key (a FHIRPath delimited identifier), never as an array index.
func TestFHIRStrictJSONNumericKey(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireMapper(t, h)
	tok := adminToken(h)
	body := []byte(`{"resourceType":"Bundle","type":"document","x":{"123":1,"123":2}}`)
	res := postFHIR(t, h, pathFHIR, tok, body, fhirJSON)
	oo := wantOutcome(t, res, http.StatusBadRequest, "duplicate key '123'")
	if len(oo.Issue[0].Expression) != 1 || oo.Issue[0].Expression[0] != "Bundle.x.`123`" {
		t.Errorf("expression %q, want [Bundle.x.`123`]", oo.Issue[0].Expression)
	}
}

// TestFHIRSameDocumentOtherMessage: a document named only by its
// Composition identifier, resent inside a message with another
// MessageHeader id, or sent bare, is the same notification: 200 with the
// first Location, one event.
func TestFHIRSameDocumentOtherMessage(t *testing.T) {
	t.Parallel()
	h := start(t)
	requireFamily(t, h, familyV1Birth)
	tok := adminToken(h)
	doc := editJSON(t, readFile(t, v1BirthFile), func(m map[string]any) {
		delete(m, "identifier")
		resourceAt(m, 0)["identifier"] = map[string]any{"system": "urn:ietf:rfc:3986", "value": uuid.NewString()}
	})
	first := uuid.NewString()
	res := postFHIR(t, h, pathProcessMessage, tok, messageOf(t, doc, first), fhirJSON)
	wantResponse(t, res, http.StatusOK, first, "ok")
	loc := res.Header.Get("Location")
	if locationRe.FindStringSubmatch(loc) == nil {
		t.Fatalf("Location %q", loc)
	}
	again := uuid.NewString()
	res = postFHIR(t, h, pathProcessMessage, tok, messageOf(t, doc, again), fhirJSON)
	wantResponse(t, res, http.StatusOK, again, "ok")
	if got := res.Header.Get("Location"); got != loc {
		t.Errorf("the document in another message: Location %q, want %q", got, loc)
	}
	res = postFHIR(t, h, pathFHIR, tok, doc, fhirJSON)
	created(t, res, http.StatusOK)
	if got := res.Header.Get("Location"); got != loc {
		t.Errorf("the document sent bare: Location %q, want %q", got, loc)
	}
	if n := total(t, h, tok); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}
