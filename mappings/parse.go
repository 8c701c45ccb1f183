package mappings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// obj is a decoded JSON object; values are obj, []any, string, json.Number,
// bool or nil.
type obj = map[string]any

// resource is one resource of a parsed bundle with where it sits.
type resource struct {
	Type    string
	ID      string
	Path    string // FHIRPath-like, e.g. "Bundle.entry[3].resource"
	Data    obj
	Index   int    // entry index in its bundle
	FullURL string // the entry's fullUrl, if any
}

// idOrURL is the resource id, else the UUID of a urn:uuid: fullUrl.
func (r *resource) idOrURL() string {
	if r.ID != "" {
		return r.ID
	}
	return strings.TrimPrefix(r.FullURL, "urn:uuid:")
}

// bundle is the tolerant view of a Bundle: entries, and a reference index.
type bundle struct {
	Path      string
	Type      string
	Data      obj
	Resources []*resource
	byURL     map[string]*resource // fullUrl, Type/id, urn:uuid:id, id
	parent    *bundle
}

// decodeJSON decodes a whole body keeping numbers exact. Anything after
// the JSON value is an error: dec.More() would miss a stray '}' or ']', so
// the end of input is checked instead.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// knownTypes are the resource types the mapping reads or knowingly skips;
// anything else is reported as ignored.
var knownTypes = map[string]bool{
	"Bundle": true, "Composition": true, "Patient": true, "RelatedPerson": true, "Encounter": true,
	"Observation": true, "Location": true, "Task": true, "MessageHeader": true, "Parameters": true,
	"Practitioner": true, "PractitionerRole": true, "Organization": true, "Procedure": true,
	"Condition": true, "Coverage": true, "QuestionnaireResponse": true, "DocumentReference": true,
	"List": true, "Provenance": true, "OperationOutcome": true, "Binary": true,
}

// parseBundle indexes the entries of a Bundle object. Problems that do not
// stop mapping are added to issues.
func parseBundle(data obj, path string, parent *bundle, issues *[]Issue) *bundle {
	b := &bundle{Path: path, Data: data, parent: parent, byURL: map[string]*resource{}}
	b.Type, _ = data["type"].(string)
	entries, _ := data["entry"].([]any)
	for i, e := range entries {
		ep := fmt.Sprintf("%s.entry[%d]", path, i)
		eo, ok := e.(obj)
		if !ok {
			*issues = append(*issues, warn("structure", ep, "entry is not an object; ignored"))
			continue
		}
		ro, ok := eo["resource"].(obj)
		if !ok {
			if eo["resource"] != nil || eo["request"] == nil {
				*issues = append(*issues, warn("structure", ep+".resource", "entry has no resource; ignored"))
			}
			continue
		}
		rt, _ := ro["resourceType"].(string)
		if rt == "" {
			*issues = append(*issues, warn("structure", ep+".resource.resourceType", "resource without resourceType; ignored"))
			continue
		}
		r := &resource{Type: rt, Path: ep + ".resource", Data: ro, Index: i}
		r.ID, _ = ro["id"].(string)
		if !knownTypes[rt] {
			*issues = append(*issues, info("informational", r.Path, fmt.Sprintf("resource type %s is not used by the mapping; ignored", rt)))
		}
		b.Resources = append(b.Resources, r)
		if fu, _ := eo["fullUrl"].(string); fu != "" {
			r.FullURL = fu
			if prev, dup := b.byURL[fu]; dup && prev != r {
				*issues = append(*issues, warn("structure", ep+".fullUrl", fmt.Sprintf("fullUrl %s is used twice (also %s); the first is kept", fu, prev.Path)))
			} else {
				b.byURL[fu] = r
			}
			if k := refKey(fu); k != "" && b.byURL[k] == nil {
				b.byURL[k] = r
			}
			// a bare UUID fullUrl (seen in real bundles) also answers urn:uuid:
			if isUUIDish(fu) && b.byURL["urn:uuid:"+fu] == nil {
				b.byURL["urn:uuid:"+fu] = r
			}
		}
		if r.ID != "" {
			if k := rt + "/" + r.ID; b.byURL[k] == nil {
				b.byURL[k] = r
			}
			if k := "urn:uuid:" + r.ID; isUUIDish(r.ID) && b.byURL[k] == nil {
				b.byURL[k] = r
			}
		}
	}
	return b
}

func isUUIDish(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// refKey reduces an absolute or relative reference to "Type/id":
// "http://x/fhir/Patient/1", "/fhir/Patient/1/_history/2", "Patient/1".
func refKey(ref string) string {
	ref = strings.TrimSpace(ref)
	if strings.HasPrefix(ref, "urn:") || strings.HasPrefix(ref, "#") {
		return ""
	}
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(strings.Trim(ref, "/"), "/")
	if n := len(parts); n >= 4 && parts[n-2] == "_history" {
		parts = parts[:n-2]
	}
	n := len(parts)
	if n < 2 {
		return ""
	}
	t, id := parts[n-2], parts[n-1]
	if t == "" || id == "" || !(t[0] >= 'A' && t[0] <= 'Z') {
		return ""
	}
	return t + "/" + id
}

// resolve finds the resource a reference string names, in this bundle or
// an enclosing one.
func (b *bundle) resolve(ref string) *resource {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil
	}
	for x := b; x != nil; x = x.parent {
		if r := x.byURL[ref]; r != nil {
			return r
		}
		if k := refKey(ref); k != "" {
			if r := x.byURL[k]; r != nil {
				return r
			}
		}
		if isUUIDish(ref) {
			if r := x.byURL["urn:uuid:"+ref]; r != nil {
				return r
			}
		}
	}
	return nil
}

// ofType lists the resources of one type, in entry order.
func (b *bundle) ofType(t string) []*resource {
	var out []*resource
	for _, r := range b.Resources {
		if r.Type == t {
			out = append(out, r)
		}
	}
	return out
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func warn(code, expr, msg string) Issue {
	is := Issue{Severity: "warning", Code: code, Diagnostics: msg}
	if expr != "" {
		is.Expression = []string{expr}
	}
	return is
}

func info(code, expr, msg string) Issue {
	is := warn(code, expr, msg)
	is.Severity = "information"
	return is
}

func errIssue(code, expr, msg string) Issue {
	is := warn(code, expr, msg)
	is.Severity = "error"
	return is
}
