package httpapi_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/fixtures"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// vitalRecord is what the test reads from a bundle by itself, to check
// the event the hub made of it.
type vitalRecord struct {
	kind                 string // birth, death, fetal-death, "" (unknown)
	given, family, sex   string
	dob, deathDate       string // full dates only ("" otherwise)
	motherID, deceasedID string
	// a US social security number (type SS or SB, or system us-ssn) is not
	// Farajaland's national id: it must never become mother.nid or
	// deceased.nid (which MOSIP would take as a UIN)
	motherSSN, deceasedSSN string
}

func str(v any) string { s, _ := v.(string); return s }

func objs(v any) []map[string]any {
	var out []map[string]any
	a, _ := v.([]any)
	for _, x := range a {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

var fullDateRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)

func fullDate(s string) string {
	if fullDateRe.MatchString(s) {
		return s[:10]
	}
	return ""
}

// codes lists the codes of a CodeableConcept (or a bare string, as older
// OpenCRVS data has).
func codes(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	var out []string
	for _, c := range objs(obj(v)["coding"]) {
		out = append(out, str(c["code"]))
	}
	return out
}

// documents finds every document Bundle in a body: itself, entries,
// Parameters inside messages, recursively.
func documents(r map[string]any) []map[string]any {
	var out []map[string]any
	switch str(r["resourceType"]) {
	case "Bundle":
		if str(r["type"]) == "document" {
			out = append(out, r)
		}
		for _, e := range objs(r["entry"]) {
			out = append(out, documents(obj(e["resource"]))...)
		}
	case "Parameters":
		for _, p := range objs(r["parameter"]) {
			out = append(out, documents(obj(p["resource"]))...)
		}
	}
	return out
}

// resolve finds the resource a reference points at inside a bundle: by
// fullUrl, by a fullUrl ending in the reference, or by Type/id or id.
func resolve(doc map[string]any, ref string) map[string]any {
	for _, e := range objs(doc["entry"]) {
		r, full := obj(e["resource"]), str(e["fullUrl"])
		id := str(r["id"])
		if ref == full || strings.HasSuffix(full, "/"+ref) || (id != "" && (ref == str(r["resourceType"])+"/"+id || ref == id)) ||
			(strings.Contains(full, "/_history/") && strings.HasPrefix(full, "/fhir/"+ref+"/")) {
			return r
		}
	}
	return nil
}

// readRecord reads a document's kind, subject and key facts.
func readRecord(doc map[string]any) vitalRecord {
	var comp map[string]any
	for _, e := range objs(doc["entry"]) {
		if r := obj(e["resource"]); str(r["resourceType"]) == "Composition" {
			comp = r
			break
		}
	}
	var rec vitalRecord
	if comp == nil {
		return rec
	}
	for _, c := range codes(comp["type"]) {
		switch c {
		case "birth-notification", "birth-declaration", "92011-6", "68998-4":
			rec.kind = "birth"
		case "death-notification", "death-declaration", "64297-5":
			rec.kind = "death"
		case "92010-8", "69045-3":
			rec.kind = "fetal-death"
		}
	}
	section := func(code string) map[string]any {
		for _, s := range objs(comp["section"]) {
			if slices.Contains(codes(s["code"]), code) {
				if es := objs(s["entry"]); len(es) > 0 {
					return resolve(doc, str(es[0]["reference"]))
				}
			}
		}
		return nil
	}
	subject := section("child-details")
	if rec.kind == "death" {
		subject = section("deceased-details")
	}
	if subject == nil {
		subject = resolve(doc, str(obj(comp["subject"])["reference"]))
	}
	if subject == nil {
		return rec
	}
	if names := objs(subject["name"]); len(names) > 0 {
		n := names[0]
		if g, _ := n["given"].([]any); len(g) > 0 {
			rec.given = str(g[0])
		}
		switch f := n["family"].(type) {
		case string:
			rec.family = f
		case []any: // STU3
			var parts []string
			for _, p := range f {
				parts = append(parts, str(p))
			}
			rec.family = strings.Join(parts, " ")
		}
		// suffixes (Jr., MD) are not part of the surname: the mapper
		// leaves them out with an information issue
	}
	rec.sex = str(subject["gender"])
	rec.dob = fullDate(str(subject["birthDate"]))
	rec.deathDate = fullDate(str(subject["deceasedDateTime"]))
	for _, e := range objs(doc["entry"]) {
		r := obj(e["resource"])
		if str(r["resourceType"]) == "Observation" && slices.Contains(codes(r["code"]), "81956-5") && rec.deathDate == "" {
			rec.deathDate = fullDate(str(r["valueDateTime"]))
		}
	}
	if rec.kind == "death" {
		rec.deceasedID, rec.deceasedSSN = nationalID(subject), usSSN(subject)
	}
	mother := section("mother-details")
	for _, e := range objs(doc["entry"]) { // HL7 vital records: the mother by profile
		if r := obj(e["resource"]); mother == nil && str(r["resourceType"]) == "Patient" &&
			strings.Contains(string(mustJSONAny(obj(r["meta"])["profile"])), "Patient-mother-vr") {
			mother = r
		}
	}
	if mother != nil {
		rec.motherID, rec.motherSSN = nationalID(mother), usSSN(mother)
	}
	return rec
}

func mustJSONAny(v any) []byte { b, _ := json.Marshal(v); return b }

// nationalID is a person's Farajaland national identifier: typed
// NATIONAL_ID (OpenCRVS) without another register's system.
func nationalID(p map[string]any) string {
	for _, id := range objs(p["identifier"]) {
		if slices.Contains(codes(id["type"]), "NATIONAL_ID") && str(id["system"]) == "" {
			return str(id["value"])
		}
	}
	return ""
}

// usSSN is a person's US social security number (HL7 vital records: type
// SS or SB, or system us-ssn).
func usSSN(p map[string]any) string {
	for _, id := range objs(p["identifier"]) {
		cs := codes(id["type"])
		if slices.Contains(cs, "SS") || slices.Contains(cs, "SB") || str(id["system"]) == "http://hl7.org/fhir/sid/us-ssn" {
			return str(id["value"])
		}
	}
	return ""
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

// matches compares an event's declaration with a record read from the
// bundle and returns the differences. Fewer than two facts to compare
// (name, sex, date...) is a difference too: the test would prove nothing.
func (rec vitalRecord) matches(eventType string, decl map[string]any) (diffs []string) {
	checked := 0
	want := func(field string, got any, want string) {
		if want != "" {
			checked++
		}
		if want != "" && str(got) != want {
			diffs = append(diffs, field+"="+str(got)+", bundle says "+want)
		}
	}
	wantID := func(field string, got any, id string) { // punctuation aside (123-45-6789)
		if id != "" {
			want(field, nonAlnum.ReplaceAllString(str(got), ""), nonAlnum.ReplaceAllString(id, ""))
		}
	}
	defer func() {
		if checked < 2 {
			diffs = append(diffs, "the test read too little from the bundle to compare")
		}
	}()
	if eventType != rec.kind {
		checked = 2
		return []string{"event type " + eventType + ", bundle is a " + rec.kind}
	}
	who := "child"
	if rec.kind == "death" {
		who = "deceased"
	}
	name := obj(decl[who+".name"])
	want(who+".name.firstname", name["firstname"], rec.given)
	want(who+".name.surname", name["surname"], rec.family)
	if rec.sex == "male" || rec.sex == "female" {
		want(who+".gender", decl[who+".gender"], rec.sex)
	}
	want(who+".dob", decl[who+".dob"], rec.dob)
	notSSN := func(field string, got any, ssn string) {
		if ssn != "" && str(got) != "" && nonAlnum.ReplaceAllString(str(got), "") == nonAlnum.ReplaceAllString(ssn, "") {
			diffs = append(diffs, field+"="+str(got)+" is the bundle's US SSN, not a national id")
		}
	}
	if rec.kind == "death" {
		want("eventDetails.date", decl["eventDetails.date"], rec.deathDate)
		wantID("deceased.nid", decl["deceased.nid"], rec.deceasedID)
		notSSN("deceased.nid", decl["deceased.nid"], rec.deceasedSSN)
	} else {
		wantID("mother.nid", decl["mother.nid"], rec.motherID)
		notSSN("mother.nid", decl["mother.nid"], rec.motherSSN)
	}
	return diffs
}

// TestFHIRConformance posts every bundle of the shared OpenCRVS and HL7
// fixtures (Postman variables filled) through the real server, to every
// ingestion route that could take it: never a 5xx; births and deaths
// become events whose subject's name, sex and dates (and mother's or
// deceased's national id) match the bundle; a resend through another
// route is the same event; what is not a birth or death notification
// (fetal deaths, a v2 notify body, a saved record on /notification) is a
// 4xx OperationOutcome that says why, and stores nothing.
func TestFHIRConformance(t *testing.T) {
	t.Parallel()
	root := fixtures.SharedDir()
	if root == "" {
		t.Skip("no shared/fixtures folder above the package: the conformance fixtures are not available")
	}
	var files []string
	for _, dir := range []string{"opencrvs", "hl7"} {
		fs, _ := filepath.Glob(filepath.Join(root, dir, "*.json"))
		files = append(files, fs...)
	}
	if len(files) == 0 {
		t.Skipf("no fixtures in %s", root)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			raw := postmanFill(t, readFile(t, f), nil)
			h := start(t)
			// a hospital system: its office is the default for a bundle
			// naming none, and it may name its area's facilities
			tok := h.ClientToken(hubtest.OfficeIbombo, append([]string{core.ScopeFacilitiesInArea}, hubtest.AllScopes...)...)
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("fixture is not JSON: %v", err)
			}
			var recs []vitalRecord
			for _, d := range documents(body) {
				recs = append(recs, readRecord(d))
			}
			isBundle := str(body["resourceType"]) == "Bundle"
			isMessage := isBundle && str(body["type"]) == "message"
			notifiable := false // a birth or death the hub must take
			for _, r := range recs {
				notifiable = notifiable || r.kind == "birth" || r.kind == "death"
			}
			// An update or void message, or a batch of messages, may be
			// refused; a document or a submission may not.
			mayRefuse := str(body["type"]) == "batch"
			for _, u := range eventURIs(body) {
				mayRefuse = mayRefuse || strings.HasSuffix(u, "_update") || strings.HasSuffix(u, "_void")
			}
			firstNotification := true
			// v1 notifications: the Event Notification API shape.
			isV1 := false
			if isBundle && len(objs(body["entry"])) > 1 {
				task := map[string]any{}
				for _, e := range objs(body["entry"]) {
					if r := obj(e["resource"]); str(r["resourceType"]) == "Task" {
						task = r
					}
				}
				isV1 = str(body["type"]) == "document" && str(task["status"]) == "draft" &&
					str(obj(objs(body["entry"])[0]["resource"])["resourceType"]) == "Composition"
			}
			routes := []string{pathFHIR, pathNotification, pathProcessMessage}
			var eventID string
			for _, route := range routes {
				res := postFHIR(t, h, route, tok, raw, fhirJSON)
				if res.Status >= 500 {
					t.Fatalf("%s: %d for bad or good input alike is wrong: %s", route, res.Status, res.Body)
				}
				takes := notifiable && !(route == pathNotification && !isV1) && !(route == pathProcessMessage && !isMessage)
				if res.Status >= 400 {
					if route == pathProcessMessage && isMessage {
						var rm responseMessage
						_ = json.Unmarshal(res.Body, &rm)
						if rm.ResourceType == "Bundle" { // a fatal-error response message
							if len(rm.Entry) != 2 {
								t.Fatalf("%s: response message %s", route, res.Body)
							}
							res = &hubtest.Response{Status: res.Status, Header: res.Header, Body: rm.Entry[1].Resource}
						}
					}
					oo := wantOutcome(t, res, res.Status)
					if takes && !mayRefuse {
						t.Errorf("%s refused a %v notification (%d): %s", route, kinds(recs), res.Status, oo.text())
					}
					t.Logf("%s: %d %s", route, res.Status, firstLine(oo.text()))
					continue
				}
				if !takes {
					t.Errorf("%s took a bundle it should refuse (%v): %d %s", route, kinds(recs), res.Status, res.Body)
				}
				m := locationRe.FindStringSubmatch(res.Header.Get("Location"))
				if m == nil {
					t.Fatalf("%s: %d without a Location: %s", route, res.Status, res.Body)
				}
				wantStatus := http.StatusCreated
				if route == pathProcessMessage {
					wantStatus = http.StatusOK
				} else if !firstNotification {
					wantStatus = http.StatusOK // the same bundle through another route: a resend
				}
				if res.Status != wantStatus {
					t.Errorf("%s: status %d, want %d", route, res.Status, wantStatus)
				}
				if eventID != "" && m[1] != eventID {
					t.Errorf("%s: event %s, but the same bundle made %s before", route, m[1], eventID)
				}
				eventID, firstNotification = m[1], false
				ev, decl := declared(t, h, tok, m[1])
				var diffs []string
				ok := false
				for _, r := range recs {
					d := r.matches(ev.Type, decl)
					if len(d) == 0 {
						ok = true
						break
					}
					diffs = append(diffs, d...)
				}
				if !ok {
					t.Errorf("%s: event %s (%s) does not match the bundle: %v", route, ev.ID, ev.Type, diffs)
				}
				t.Logf("%s: %d event %s %s %v", route, res.Status, ev.Type, ev.TrackingID, decl[map[string]string{"birth": "child.name", "death": "deceased.name"}[ev.Type]])
			}
			want := 0
			if eventID != "" {
				want = 1
			}
			if n := total(t, h, tok); n != want {
				t.Errorf("%d events stored, want %d", n, want)
			}
		})
	}
}

// eventURIs lists the MessageHeader events of a body (messages, batches).
func eventURIs(r map[string]any) []string {
	var out []string
	switch str(r["resourceType"]) {
	case "MessageHeader":
		out = append(out, str(r["eventUri"]))
	case "Bundle":
		for _, e := range objs(r["entry"]) {
			out = append(out, eventURIs(obj(e["resource"]))...)
		}
	}
	return out
}

func kinds(recs []vitalRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.kind)
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
