package mappings

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/crvshub/crvshub/core"
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

// maxJSONNesting bounds how deeply a body nests arrays and objects: a
// message holding a document of resources with nested extensions uses
// about twenty levels.
const maxJSONNesting = 64

// decodeJSON decodes a whole body with the strict reader the native API
// uses (core.DecodeJSONText), in one pass: UTF-8 only, no unpaired
// surrogate, no key sent twice, nothing after the value, at most
// MaxBundleEntries entries. encoding/json would silently turn
// a bad byte of a legal name into U+FFFD and let the last of two keys
// win. Numbers keep their text (json.Number).
func decodeJSON(body []byte) (any, *Error) {
	v, err := core.DecodeJSONText(body, core.JSONLimits{MaxNesting: maxJSONNesting, CountKey: "entry", MaxCount: MaxBundleEntries})
	if err == nil {
		return v, nil
	}
	var je *core.JSONTextError
	if !errors.As(err, &je) {
		return nil, badInput(core.KindInvalid, errIssue("structure", "", "the body is not JSON: "+err.Error()))
	}
	if je.Count {
		return nil, tooManyEntries()
	}
	msg := je.Msg
	switch {
	case strings.Contains(msg, "unexpected data after the value"):
		msg = "the body is not JSON: trailing data after the JSON value"
	case strings.HasPrefix(msg, "Invalid JSON"):
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(msg, "Invalid JSON"), ":"))
		if strings.HasPrefix(rest, "at byte") {
			rest = "unexpected input " + rest
		}
		msg = "the body is not JSON: " + rest
	case strings.Contains(msg, "duplicate key"):
		msg = "the body is not strict JSON: " + strings.TrimPrefix(msg, "Invalid input: ") +
			" (a key sent twice leaves it to each reader which value counts; send it once)"
	default:
		msg = "the body is not strict JSON: " + strings.TrimPrefix(msg, "Invalid input: ") +
			" (text must be UTF-8 with paired surrogates; nothing is stored as a replacement character)"
	}
	code := "structure"
	if !strings.HasPrefix(je.Msg, "Invalid JSON") {
		code = "invalid"
	}
	expr := ""
	if len(je.Path) > 0 {
		expr = je.Expression("Bundle") // Bundle.entry[1].resource.name[0].given
	}
	return nil, badInput(core.KindInvalid, errIssue(code, expr, msg))
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
// stop mapping are added to issues, one per kind: a bundle padded with
// thousands of junk entries gets one issue saying how many were ignored
// and where the first is, not one issue each (an answer must not grow
// with the junk).
func parseBundle(data obj, path string, parent *bundle, issues *[]Issue) *bundle {
	b := &bundle{Path: path, Data: data, parent: parent, byURL: map[string]*resource{}}
	b.Type, _ = data["type"].(string)
	entries, _ := data["entry"].([]any)
	var g issueGroups
	defer g.flush(issues)
	ignored := func(severity, code, expr, what string) {
		g.add(severity+"|"+code+"|"+what, Issue{Severity: severity, Code: code, Expression: []string{expr}, Diagnostics: what + "; ignored"},
			func(n int) string { return fmt.Sprintf("%d entries ignored, the first at %s: %s", n, expr, what) })
	}
	for i, e := range entries {
		ep := fmt.Sprintf("%s.entry[%d]", path, i)
		eo, ok := e.(obj)
		if !ok {
			ignored("warning", "structure", ep, "entry is not an object")
			continue
		}
		ro, ok := eo["resource"].(obj)
		if !ok {
			if eo["resource"] != nil || eo["request"] == nil {
				ignored("warning", "structure", ep+".resource", "entry has no resource")
			}
			continue
		}
		rt, _ := ro["resourceType"].(string)
		if rt == "" {
			ignored("warning", "structure", ep+".resource.resourceType", "resource without resourceType")
			continue
		}
		r := &resource{Type: rt, Path: ep + ".resource", Data: ro, Index: i}
		r.ID, _ = ro["id"].(string)
		if !knownTypes[rt] {
			ignored("information", "informational", r.Path, fmt.Sprintf("resource type %s is not used by the mapping", rt))
		}
		b.Resources = append(b.Resources, r)
		if fu, _ := eo["fullUrl"].(string); fu != "" {
			r.FullURL = fu
			if prev, dup := b.byURL[fu]; dup && prev != r {
				at := ep + ".fullUrl"
				g.add("fullUrl|"+fu, warn("structure", at, fmt.Sprintf("fullUrl %s is used twice (also %s); the first is kept", fu, prev.Path)),
					func(n int) string {
						return fmt.Sprintf("fullUrl %s is used by %d more entries, the first at %s (also %s); the first is kept", fu, n, at, prev.Path)
					})
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

// issueGroups collapses repeated issues of one kind into one, in the order
// each kind first occurred.
type issueGroups struct {
	order []*issueGroup
	byKey map[string]*issueGroup
}

type issueGroup struct {
	first    Issue
	n        int
	collapse func(n int) string // the diagnostics for n > 1 occurrences
}

// add counts one issue of the kind key; the first one is kept.
func (g *issueGroups) add(key string, is Issue, collapse func(n int) string) {
	if x := g.byKey[key]; x != nil {
		x.n++
		return
	}
	if g.byKey == nil {
		g.byKey = map[string]*issueGroup{}
	}
	x := &issueGroup{first: is, n: 1, collapse: collapse}
	g.byKey[key] = x
	g.order = append(g.order, x)
}

// flush appends one issue per kind to issues: the first occurrence as it
// was for a kind seen once, else a summary counting them.
func (g *issueGroups) flush(issues *[]Issue) {
	for _, x := range g.order {
		is := x.first
		if x.n > 1 {
			is.Diagnostics = x.collapse(x.n)
		}
		*issues = append(*issues, is)
	}
}

// MaxBundleEntries is the most entries a body may hold, counting the
// entries of nested bundles: real birth and death notifications have tens.
// More is refused (413 naming Bundle.entry) while the body is decoded,
// which stops there: a body of junk entries costs neither memory nor an
// answer that grows with it.
const MaxBundleEntries = 10000

func tooManyEntries() *Error {
	return badInput(core.KindTooLarge, Issue{Severity: "error", Code: "too-costly", Expression: []string{"Bundle.entry"},
		Diagnostics: fmt.Sprintf("the bundle has more than %d entries (counting those of nested bundles); send fewer", MaxBundleEntries)})
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
