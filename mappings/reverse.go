package mappings

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/crvshub/crvshub/core"
)

// builder assembles a document bundle from a spec, creating each role's
// resource the first time a field writes to it.
type builder struct {
	m       *Mapper
	spec    *familySpec
	eventID string
	res     map[string]obj // role -> resource
	urls    map[string]string
	order   []string
	comp    obj
}

func (bd *builder) uuid(name string) string {
	h := sha1.Sum([]byte(bd.eventID + "/" + name))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-5" + x[13:16] + "-8" + x[17:20] + "-" + x[20:32]
}

func (bd *builder) add(role string, r obj) {
	if id := str(r["id"]); id == "" {
		r["id"] = bd.uuid(role)
	}
	bd.res[role] = r
	bd.urls[role] = "urn:uuid:" + str(r["id"])
	bd.order = append(bd.order, role)
}

// role returns the resource for a role, creating it (and what links to it).
func (bd *builder) role(name string, root obj) obj {
	if r, ok := bd.res[name]; ok {
		return r
	}
	rs := bd.spec.Roles[name]
	if rs == nil {
		return nil
	}
	for len(rs.OneOf) > 0 {
		rs = rs.OneOf[0]
	}
	r := root
	if r == nil {
		r = obj{}
	}
	if len(rs.Resource) > 0 {
		r["resourceType"] = rs.Resource[0]
	}
	if str(r["resourceType"]) == "" {
		r["resourceType"] = "Location"
	}
	if len(rs.Profile) > 0 {
		r["meta"] = obj{"profile": []any{rs.Profile[0]}}
	}
	if len(rs.Code) > 0 {
		r["code"] = codeable(rs.Code[0], "http://loinc.org")
		r["status"] = "final"
		if bd.spec.Subject != name {
			if s := bd.role(bd.spec.Subject, nil); s != nil {
				r["subject"] = obj{"reference": bd.urls[bd.spec.Subject]}
			}
		}
	}
	if len(rs.Type) > 0 {
		if str(r["resourceType"]) == "Composition" {
			r["type"] = codeable(rs.Type[0], "http://opencrvs.org/doc-types")
		} else { // Location.type is a list in R4
			r["type"] = []any{codeable(rs.Type[0], "http://opencrvs.org/specs/location-type")}
		}
	}
	if len(rs.Relationship) > 0 {
		r["relationship"] = []any{codeable(rs.Relationship[0], "http://hl7.org/fhir/ValueSet/relatedperson-relationshiptype")}
	}
	if str(r["resourceType"]) == "Encounter" {
		r["status"] = "finished"
		r["class"] = obj{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"}
	}
	bd.add(name, r)
	if len(rs.Section) > 0 && bd.comp != nil {
		secs, _ := bd.comp["section"].([]any)
		sys := bd.spec.SectionSystem
		bd.comp["section"] = append(secs, obj{"title": rs.Section[0], "code": codeable(sys+"|"+rs.Section[0], sys), "entry": []any{obj{"reference": bd.urls[name]}}})
	}
	if rs.Ref != "" {
		if parent := bd.role(rs.ref.role, nil); parent != nil {
			setPath(parent, rs.ref.segs, obj{"reference": bd.urls[name]})
		}
	}
	return r
}

func codeable(code, defSystem string) obj {
	sys := defSystem
	if i := strings.LastIndexByte(code, '|'); i >= 0 {
		sys, code = code[:i], code[i+1:]
	}
	c := obj{"code": code}
	if sys != "" {
		c["system"] = sys
	}
	return obj{"coding": []any{c}}
}

// setPath writes v at segs below r, creating objects and list elements.
func setPath(r obj, segs []seg, v any) {
	cur := r
	for i, s := range segs {
		last := i == len(segs)-1
		switch s.kind {
		case segKey:
			if last {
				if o, ok := v.(obj); ok && isListElement(s.key) && o["reference"] == nil {
					v = []any{o}
				}
				if old, ok := cur[s.key].([]any); ok {
					if add, ok := v.([]any); ok {
						cur[s.key] = append(old, add...)
						return
					}
				}
				cur[s.key] = v
				return
			}
			if i+1 < len(segs) && segs[i+1].kind == segWhere {
				w := segs[i+1]
				arr, _ := cur[s.key].([]any)
				var el obj
				for _, e := range arr {
					eo, ok := e.(obj)
					if !ok {
						continue
					}
					if got := eval(nil, []node{{eo, ""}}, w.sub); len(got) > 0 && strings.EqualFold(str(got[0].v), w.value) {
						el = eo
						break
					}
				}
				if el == nil {
					el = obj{}
					setPath(el, w.sub, w.value)
					cur[s.key] = append(arr, el)
				}
				setPath(el, segs[i+2:], v)
				return
			}
			switch x := cur[s.key].(type) {
			case obj:
				cur = x
			case []any:
				if len(x) > 0 {
					if eo, ok := x[0].(obj); ok {
						cur = eo
						continue
					}
				}
				n := obj{}
				cur[s.key] = append(x, n)
				cur = n
			default:
				n := obj{}
				if isListElement(s.key) {
					cur[s.key] = []any{n}
				} else {
					cur[s.key] = n
				}
				cur = n
			}
		case segExt:
			arr, _ := cur["extension"].([]any)
			var el obj
			for _, e := range arr {
				if eo, ok := e.(obj); ok && str(eo["url"]) == s.key {
					el = eo
				}
			}
			if el == nil {
				el = obj{"url": s.key}
				cur["extension"] = append(arr, el)
			}
			if last {
				return
			}
			cur = el
		case segWhere, segResolve:
			// handled with the key before it / nothing to write
		}
	}
}

// write puts a reversed value at the rule's first path.
func (bd *builder) write(f *fieldSpec, out any) {
	p := f.paths[0]
	if len(p.segs) == 0 {
		if o, ok := out.(obj); ok {
			if _, exists := bd.res[p.role]; !exists {
				bd.role(p.role, o)
			}
		}
		return
	}
	if o, ok := out.(obj); ok && len(o) == 0 {
		return // a constant for a role's element: nothing to write
	}
	r := bd.role(p.role, nil)
	if r == nil {
		return
	}
	if sv, ok := out.(string); ok && p.segs[len(p.segs)-1].kind == segKey {
		switch p.segs[len(p.segs)-1].key {
		case "valueCodeableConcept", "maritalStatus", "relationship":
			if f.Transform == "text" {
				out = obj{"text": sv}
			} else {
				out = obj{"coding": []any{obj{"code": sv}}}
			}
		}
	}
	if last := p.segs[len(p.segs)-1]; last.kind == segKey && last.key == "address" && str(r["resourceType"]) == "Location" {
		if list, ok := out.([]any); ok && len(list) == 1 && len(p.segs) == 1 {
			r["address"] = list[0] // Location.address is a single Address
			return
		}
	}
	setPath(r, p.segs, out)
}

// isListElement names R4 elements that are lists (written as [ {...} ]).
func isListElement(k string) bool {
	switch k {
	case "location", "name", "identifier", "telecom", "address", "extension", "coding", "relationship", "section", "component", "given", "line", "profile", "category":
		return true
	}
	return false
}

// ToBundle is the reverse mapping (GET /fhir/Bundle/{id}): the event as a
// FHIR R4 document Bundle (Composition first, then Patient, RelatedPerson,
// Encounter, Observation, Location), built with the family marked reverse
// for the event type, so that Map(ToBundle(ev)) gives the same value for
// every mapped field.
func (m *Mapper) ToBundle(ev *core.EventDocument) ([]byte, error) {
	if ev == nil {
		return nil, fmt.Errorf("mappings: ToBundle: nil event")
	}
	var spec *familySpec
	for _, s := range m.order {
		if s.Reverse && s.Event == ev.Type {
			spec = s
			break
		}
	}
	if spec == nil {
		return nil, fmt.Errorf("mappings: ToBundle: no mapping family with reverse: true for event type %q", ev.Type)
	}
	decl := core.Derive(ev).Declaration
	bd := &builder{m: m, spec: spec, eventID: ev.ID, res: map[string]obj{}, urls: map[string]string{}}
	// the Composition: the role matched by type
	for name, rs := range spec.Roles {
		if len(rs.Type) > 0 && len(rs.Resource) > 0 && rs.Resource[0] == "Composition" {
			bd.comp = obj{"resourceType": "Composition", "status": "final", "title": spec.Event + " notification",
				"identifier": obj{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + bd.uuid("composition")},
				"date":       ev.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z"), "author": []any{obj{"display": "crvshub"}}}
			bd.role(name, bd.comp)
			break
		}
	}
	if bd.comp == nil {
		return nil, fmt.Errorf("mappings: ToBundle: family %s has no Composition role", spec.Family)
	}
	subject := bd.role(spec.Subject, nil)
	if subject != nil {
		bd.comp["subject"] = obj{"reference": bd.urls[spec.Subject]}
	}
	ec := m.cc.Event(ev.Type)
	ids := make([]string, 0, len(spec.Fields))
	for id := range spec.Fields {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		raw, ok := decl[id]
		if !ok {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil || v == nil {
			continue
		}
		var fc *core.FieldConfig
		if ec != nil {
			fc = ec.Field(id)
		}
		// the first rule whose transform can write the value back
		for _, f := range spec.Fields[id] {
			t := transforms[f.Transform]
			if t.reverse == nil || len(f.paths) == 0 {
				continue
			}
			c := &tctx{m: m, fieldID: id, field: fc, args: f.Args}
			out := t.reverse(c, v)
			if out == nil {
				continue
			}
			bd.write(f, out)
			break
		}
	}
	// the registration office, as OpenCRVS v1 carries it
	if off := firstOffice(ev); off != "" {
		task := bd.res["task"]
		if task == nil {
			task = obj{"resourceType": "Task"}
			bd.add("task", task)
		}
		task["status"], task["intent"] = "draft", "unknown"
		task["focus"] = obj{"reference": bd.urls[bd.orderRole("Composition")]}
		exts, _ := task["extension"].([]any)
		task["extension"] = append(exts, obj{"url": "http://opencrvs.org/specs/extension/regLastOffice", "valueReference": obj{"reference": "Location/" + off}})
	}
	rank := map[string]int{"Composition": 0, "Patient": 1, "RelatedPerson": 2, "Encounter": 3, "Observation": 4, "Location": 5}
	roles := append([]string(nil), bd.order...)
	sort.SliceStable(roles, func(i, j int) bool {
		ri, ok := rank[str(bd.res[roles[i]]["resourceType"])]
		if !ok {
			ri = 9
		}
		rj, ok := rank[str(bd.res[roles[j]]["resourceType"])]
		if !ok {
			rj = 9
		}
		return ri < rj
	})
	var entries []any
	for _, role := range roles {
		entries = append(entries, obj{"fullUrl": bd.urls[role], "resource": bd.res[role]})
	}
	b := obj{"resourceType": "Bundle", "id": ev.ID, "type": "document",
		"identifier": obj{"system": "urn:crvshub:event", "value": ev.ID},
		"timestamp":  ev.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		"entry":      entries}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("mappings: ToBundle: %w", err)
	}
	// what we write must be strict R4: check it with the typed models
	if probs := strictCheck(out); len(probs) > 0 {
		return nil, fmt.Errorf("mappings: ToBundle: family %s wrote invalid R4: %s", spec.Family, strings.Join(probs, "; "))
	}
	return out, nil
}

func (bd *builder) orderRole(resourceType string) string {
	for _, r := range bd.order {
		if str(bd.res[r]["resourceType"]) == resourceType {
			return r
		}
	}
	return ""
}

func firstOffice(ev *core.EventDocument) string {
	for _, a := range ev.Actions {
		if a.CreatedAtLocation != "" {
			return a.CreatedAtLocation
		}
	}
	return ""
}

// strictCheck decodes every resource of a bundle with the typed R4 models
// and lists the failures.
func strictCheck(bundleJSON []byte) []string {
	var b fhir.Bundle
	if err := json.Unmarshal(bundleJSON, &b); err != nil {
		return []string{err.Error()}
	}
	var out []string
	for i, e := range b.Entry {
		var head struct{ ResourceType string }
		_ = json.Unmarshal(e.Resource, &head)
		err := typedDecode(head.ResourceType, e.Resource)
		if err != nil {
			out = append(out, fmt.Sprintf("entry[%d] %s: %v", i, head.ResourceType, err))
		}
	}
	return out
}

// typedDecode decodes a resource with the typed R4 model of its type (the
// types the mappings read or write); other types are not checked.
func typedDecode(resourceType string, raw []byte) error {
	var err error
	switch resourceType {
	case "Composition":
		_, err = fhir.UnmarshalComposition(raw)
	case "Patient":
		_, err = fhir.UnmarshalPatient(raw)
	case "RelatedPerson":
		_, err = fhir.UnmarshalRelatedPerson(raw)
	case "Encounter":
		_, err = fhir.UnmarshalEncounter(raw)
	case "Observation":
		_, err = fhir.UnmarshalObservation(raw)
	case "Location":
		_, err = fhir.UnmarshalLocation(raw)
	case "Task":
		_, err = fhir.UnmarshalTask(raw)
	}
	return err
}
