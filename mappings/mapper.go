package mappings

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
)

// Mapper holds the loaded mapping specs.
type Mapper struct {
	cc     *core.CountryConfig
	specs  map[string]*familySpec
	order  []*familySpec // by priority (high first), then family name
	byName map[string]*core.Location
}

// New loads the embedded default specs overlaid with <configDir>/fhir/*.yaml|json
// (configDir "" = defaults only); a file with the same family name replaces
// the default; new files add families.
func New(cc *core.CountryConfig, configDir string) (*Mapper, error) {
	if cc == nil {
		return nil, fmt.Errorf("mappings: nil country config")
	}
	specs, err := loadSpecs(configDir)
	if err != nil {
		return nil, fmt.Errorf("mappings: %w", err)
	}
	m := &Mapper{cc: cc, specs: specs, byName: map[string]*core.Location{}}
	for _, s := range specs {
		m.order = append(m.order, s)
	}
	sort.Slice(m.order, func(i, j int) bool {
		if m.order[i].Priority != m.order[j].Priority {
			return m.order[i].Priority > m.order[j].Priority
		}
		return m.order[i].Family < m.order[j].Family
	})
	for i := range cc.Locations {
		l := &cc.Locations[i]
		k := strings.ToLower(l.Name)
		if _, dup := m.byName[k]; !dup {
			m.byName[k] = l
		}
	}
	return m, nil
}

// Families lists the loaded families, sorted.
func (m *Mapper) Families() []string {
	out := make([]string, 0, len(m.specs))
	for k := range m.specs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func badInput(kind core.Kind, issues ...Issue) *Error { return &Error{Kind: kind, Issues: issues} }

// maxNesting bounds bundles inside bundles.
const maxNesting = 4

// Body is a request body decoded once (Decode): a FHIR Bundle read by
// the strict JSON reader, which Map and the callers that look at the
// bundle themselves (the MessageHeader of a message, the rules of a
// route) share.
type Body struct {
	raw []byte
	top obj
}

// Data is the decoded Bundle: map[string]any, []any, string, json.Number,
// bool and nil. Callers only read it.
func (b *Body) Data() map[string]any { return b.top }

// Decode reads a body in one pass: strict JSON (core.DecodeJSONText) of
// at most MaxBundleEntries entries, a JSON object whose resourceType is
// Bundle. The error is an *Error.
func Decode(body []byte) (*Body, error) {
	doc, jerr := decodeJSON(body)
	if jerr != nil {
		return nil, jerr
	}
	top, ok := doc.(obj)
	if !ok {
		return nil, badInput(core.KindInvalid, errIssue("structure", "", "the body is not a FHIR resource: expected a JSON object"))
	}
	rt, _ := top["resourceType"].(string)
	switch {
	case rt == "":
		return nil, badInput(core.KindInvalid, errIssue("structure", "resourceType", "the body is not a FHIR resource: resourceType is missing"))
	case rt != "Bundle":
		return nil, badInput(core.KindInvalid, errIssue("invalid", "resourceType", fmt.Sprintf("expected a Bundle, got %s", rt)))
	}
	return &Body{raw: body, top: top}, nil
}

// Map decodes and maps a bundle. now decides "today" for date checks. The
// error is *Error for bad input; any other error type is a bug.
func (m *Mapper) Map(body []byte, now time.Time) (*Result, error) {
	b, err := Decode(body)
	if err != nil {
		return nil, err
	}
	return m.MapBody(b, now)
}

// MapBody maps a decoded bundle (Decode), as Map does.
func (m *Mapper) MapBody(b *Body, now time.Time) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("mappings: internal error: %v", p)
		}
	}()
	body, top := b.raw, b.top
	var issues []Issue
	outer := parseBundle(top, "Bundle", nil, &issues)
	if e := checkBundleHead(outer); e != nil {
		return nil, e
	}
	res = &Result{}
	target, e := m.unwrap(outer, res, &issues, 0)
	if e != nil {
		return nil, e
	}
	spec, st := m.pick(target)
	if spec == nil {
		return nil, badInput(core.KindUnprocessable, m.noFamily(target))
	}
	res.Family = spec.Family
	res.EventType = spec.Event
	ec := m.cc.Event(spec.Event)
	if ec == nil {
		return nil, badInput(core.KindUnprocessable, errIssue("not-supported", target.Path, fmt.Sprintf(
			"the bundle is a %s report (mapping family %s), but this country's configuration defines no %q event type", spec.Event, spec.Family, spec.Event)))
	}
	if len(st.role(spec.Subject)) == 0 {
		expr := target.Path
		if comp := target.ofType("Composition"); len(comp) > 0 {
			expr = comp[0].Path + ".subject"
		}
		// dangling references often explain a missing subject: keep them
		return nil, badInput(core.KindUnprocessable, append([]Issue{errIssue("required", expr, fmt.Sprintf(
			"no subject: the %s bundle has no %s (role %q of family %s)", spec.Event, strings.ReplaceAll(spec.Subject, "_", " "), spec.Subject, spec.Family))}, st.issues...)...)
	}
	if e := m.conflict(spec, st); e != nil {
		return nil, e
	}
	if e := m.multiples(spec, st); e != nil {
		return nil, e
	}
	for _, nr := range spec.NotRecorded {
		if !nr.Refuse {
			continue
		}
		if rs := distinct(st.roleEvery(nr.Role)); len(rs) > 0 {
			subj := paths(distinct(st.roleEvery(spec.Subject)))
			is := errIssue("not-supported", st.b.Path, fmt.Sprintf(
				"the bundle reports both a %s (%s, family %s) and a %s (%s): %s",
				spec.Event, strings.Join(subj, ", "), spec.Family, nr.Event, strings.Join(paths(rs), ", "), nr.Note))
			is.Expression = append(subj, paths(rs)...)
			return nil, badInput(core.KindUnprocessable, is)
		}
	}
	for _, nr := range spec.NotRecorded {
		if nr.Refuse {
			continue
		}
		for _, r := range distinct(st.roleEvery(nr.Role)) {
			issues = append(issues, warn("informational", r.Path, nr.Note))
		}
	}
	for _, r := range spec.Expect {
		if len(st.role(r)) == 0 {
			issues = append(issues, warn("incomplete", target.Path, fmt.Sprintf("no %s details in the bundle (role %q); the notification is incomplete", r, r)))
		}
	}
	decl, sources, fieldIssues := m.mapFields(spec, st, ec, now)
	for _, is := range fieldIssues {
		if is.Severity == "error" {
			return nil, badInput(core.KindUnprocessable, fieldIssues...)
		}
	}
	issues = append(issues, fieldIssues...)
	canon, errs := core.CanonicalValues(m.cc, ec, decl, now)
	if len(errs) > 0 {
		var out []Issue
		for _, fe := range errs {
			id := fe.ID
			src := sources[id]
			for src == "" && strings.Contains(id, ".") {
				id = id[:strings.LastIndexByte(id, '.')]
				src = sources[id]
			}
			var v any
			_ = json.Unmarshal(decl[id], &v)
			out = append(out, errIssue("value", src, fmt.Sprintf("%s: %s (value %v)", fe.ID, fe.Message, v)))
		}
		return nil, badInput(core.KindUnprocessable, out...)
	}
	decl = canon
	res.Declaration = decl
	// Gaps: what the form requires for a declaration and the bundle did
	// not give. The notification is still accepted (NOTIFY takes
	// incomplete data); the sender learns what is missing.
	for _, fe := range core.MissingRequired(ec, decl) {
		issues = append(issues, warn("incomplete", "", fmt.Sprintf("%s: not in the bundle; the notification is recorded as incomplete", fe.ID)))
	}
	res.Office = m.office(spec, st, &issues)
	res.TransactionID = m.transactionID(outer, target, body)
	issues = append(issues, typedChecks(st, spec)...)
	res.Issues = append(issues, st.issues...)
	return res, nil
}

// checkBundleHead checks the bundle type and entries.
func checkBundleHead(b *bundle) *Error {
	t, ok := b.Data["type"].(string)
	if !ok || t == "" {
		return badInput(core.KindInvalid, errIssue("required", "Bundle.type", "Bundle.type is required (document, message, transaction, batch or collection)"))
	}
	switch t {
	case "document", "message", "transaction", "batch", "collection":
	default:
		return badInput(core.KindUnprocessable, errIssue("not-supported", "Bundle.type", fmt.Sprintf("a %s bundle is not a notification: send a document, message, transaction, batch or collection bundle", t)))
	}
	if e, ok := b.Data["entry"]; ok {
		if _, isList := e.([]any); !isList {
			return badInput(core.KindInvalid, errIssue("structure", "Bundle.entry", "Bundle.entry must be a list"))
		}
	}
	if len(b.Resources) == 0 {
		return badInput(core.KindUnprocessable, errIssue("required", "Bundle.entry", "the bundle has no entries with a resource: nothing to map"))
	}
	return nil
}

// unwrap finds the bundle to map: a message's focus, or the only bundle
// inside a batch/transaction/collection.
func (m *Mapper) unwrap(b *bundle, res *Result, issues *[]Issue, depth int) (*bundle, *Error) {
	if depth > maxNesting {
		return nil, badInput(core.KindUnprocessable, errIssue("not-supported", b.Path, "bundles nested too deep"))
	}
	if b.Type == "message" {
		hdrs := b.ofType("MessageHeader")
		if len(hdrs) == 0 {
			return nil, badInput(core.KindUnprocessable, errIssue("required", b.Path+".entry[0].resource", "a message bundle needs a MessageHeader as its first entry"))
		}
		h := hdrs[0]
		if h.Index != 0 {
			*issues = append(*issues, warn("structure", h.Path, "the MessageHeader should be the first entry of a message bundle"))
		}
		if depth == 0 {
			res.IsMessage = true
			res.MessageHeaderID = h.idOrURL()
		}
		ev := str(h.Data["eventUri"])
		if ev == "" {
			if ec, ok := h.Data["eventCoding"].(obj); ok {
				ev = str(ec["code"])
			}
		}
		evExpr := h.Path + ".eventUri"
		if str(h.Data["eventUri"]) == "" {
			evExpr = h.Path + ".eventCoding.code"
		}
		// An update or void changes a record the hub already holds; mapped
		// as a fresh notification it would be refused as a reused
		// document identifier, or (keyed on the new MessageHeader id)
		// duplicate the birth or death. Refused until supported.
		for _, kind := range []string{"_update", "_void"} {
			if strings.Contains(ev, kind) {
				return nil, badInput(core.KindUnprocessable, errIssue("not-supported", evExpr, fmt.Sprintf(
					"message event %s %ss a record: updates and voids of a notified record are not supported yet; nothing was changed", ev, strings.TrimPrefix(kind, "_"))))
			}
		}
		for _, bad := range []string{"_acknowledgement", "_status", "_extraction_error", "_coding", "_alias"} {
			if strings.Contains(ev, bad) {
				return nil, badInput(core.KindUnprocessable, errIssue("not-supported", evExpr, fmt.Sprintf("message event %s is not a birth or death notification", ev)))
			}
		}
		foci, _ := h.Data["focus"].([]any)
		for i, f := range foci {
			fo, _ := f.(obj)
			ref := str(fo["reference"])
			r := b.resolve(ref)
			if r == nil {
				*issues = append(*issues, warn("not-found", fmt.Sprintf("%s.focus[%d]", h.Path, i), fmt.Sprintf("focus %s is not in the bundle", ref)))
				continue
			}
			if r.Type == "Bundle" {
				inner := parseBundle(r.Data, r.Path, b, issues)
				if inner.Type == "" {
					inner.Type = "document"
				}
				return m.unwrap(inner, res, issues, depth+1)
			}
		}
	}
	var nested []*resource
	for _, r := range b.Resources {
		if r.Type == "Bundle" {
			nested = append(nested, r)
		}
	}
	if len(nested) == 0 || b.Type == "document" {
		return b, nil
	}
	if len(nested) > 1 && b.Type != "message" {
		var where []string
		for _, r := range nested {
			where = append(where, r.Path)
		}
		is := errIssue("not-supported", b.Path, fmt.Sprintf("a %s of %d bundles: post each notification on its own", b.Type, len(nested)))
		is.Expression = where
		return nil, badInput(core.KindUnprocessable, is)
	}
	inner := parseBundle(nested[0].Data, nested[0].Path, b, issues)
	if e := checkBundleHead(inner); e != nil {
		return nil, e
	}
	return m.unwrap(inner, res, issues, depth+1)
}

// state evaluates roles lazily for one spec over one bundle.
type state struct {
	m      *Mapper
	spec   *familySpec
	b      *bundle
	roles  map[string][]*resource
	busy   map[string]bool
	issues []Issue
	seen   map[string]bool
	// every: each role with every resource that matches it (roles map
	// only the first), to notice two children or two mothers
	every     map[string][]*resource
	busyEvery map[string]bool
}

func (m *Mapper) newState(s *familySpec, b *bundle) *state {
	return &state{m: m, spec: s, b: b, roles: map[string][]*resource{}, busy: map[string]bool{},
		every: map[string][]*resource{}, busyEvery: map[string]bool{}}
}

// dangling records a reference that names nothing in the bundle.
func (st *state) dangling(expr, ref string) {
	if st.seen == nil {
		st.seen = map[string]bool{}
	}
	if st.seen[expr] {
		return
	}
	st.seen[expr] = true
	st.issues = append(st.issues, warn("not-found", expr, fmt.Sprintf("reference %s names no resource in the bundle; ignored", ref)))
}

// pick returns the first family (by priority) that matches the bundle.
func (m *Mapper) pick(b *bundle) (*familySpec, *state) {
	for _, s := range m.order {
		if st := m.matches(s, b); st != nil {
			return s, st
		}
	}
	return nil, nil
}

// matches is the family's state over the bundle when the family accepts
// it: the bundle type, every required role found, no unless role found.
func (m *Mapper) matches(s *familySpec, b *bundle) *state {
	if !slices.Contains(s.Match.BundleTypes, b.Type) {
		return nil
	}
	st := m.newState(s, b)
	for _, r := range s.Match.Require {
		if len(st.role(r)) == 0 {
			return nil
		}
	}
	for _, r := range s.Match.Unless {
		if len(st.role(r)) > 0 {
			return nil
		}
	}
	return st
}

// conflict refuses a bundle that another family of a different event
// type also reads, about someone else: a birth and a death in one
// bundle. Taking the chosen family's event would silently drop the
// other. The same person read by both (a VRDR decedent who is also
// "the patient" of a mother RelatedPerson) is no conflict.
func (m *Mapper) conflict(spec *familySpec, st *state) *Error {
	// mine: every resource the chosen family reads in any of its roles.
	// A person it already holds as someone else (an OpenCRVS death's
	// MOTHER informant, a birth's deceased father) is part of its record,
	// not a second event, even when a catch-all HIS family would read
	// that person as a child or a decedent.
	mine := map[*resource]bool{}
	names := make([]string, 0, len(spec.Roles))
	for name := range spec.Roles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, r := range st.roleEvery(name) {
			mine[r] = true
		}
	}
	for _, s := range m.order {
		if s == spec || s.Event == spec.Event {
			continue
		}
		other := m.matches(s, st.b)
		if other == nil {
			continue
		}
		var theirs []*resource
		for _, r := range other.roleEvery(s.Subject) {
			if !mine[r] {
				theirs = append(theirs, r)
			}
		}
		if len(theirs) == 0 {
			continue
		}
		is := errIssue("not-supported", st.b.Path, fmt.Sprintf(
			"the bundle reports both a %s (%s, family %s) and a %s (%s, family %s): recording one would lose the other; post each notification on its own",
			spec.Event, strings.Join(paths(st.roleEvery(spec.Subject)), ", "), spec.Family, s.Event, strings.Join(paths(theirs), ", "), s.Family))
		is.Expression = append(paths(st.roleEvery(spec.Subject)), paths(theirs)...)
		return badInput(core.KindUnprocessable, is)
	}
	return nil
}

// multiples refuses a bundle whose subject role, or a person role (one
// that selects only Patient or RelatedPerson resources), matches more
// than one distinct resource: the mapper keeps the first match of a
// role, so twins would silently become one birth and a second,
// different mother would be silently ignored.
func (m *Mapper) multiples(spec *familySpec, st *state) *Error {
	if subj := distinct(st.roleEvery(spec.Subject)); len(subj) > 1 {
		is := errIssue("not-supported", st.b.Path, fmt.Sprintf(
			"the bundle holds %d subjects of a %s notification (role %s: %s): a notification reports one %s (twins: one notification per child); post each on its own",
			len(subj), spec.Event, strings.ReplaceAll(spec.Subject, "_", " "), strings.Join(paths(subj), ", "), spec.Event))
		is.Expression = paths(subj)
		return badInput(core.KindUnprocessable, is)
	}
	names := make([]string, 0, len(spec.Roles))
	for name, r := range spec.Roles {
		if name != spec.Subject && r.person() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var issues []Issue
	reported := map[string]bool{}
	for _, name := range names {
		rs := distinct(append(st.roleEvery(name), st.shadowed(spec.Roles[name])...))
		if len(rs) < 2 {
			continue
		}
		key := strings.Join(paths(rs), ",")
		if reported[key] {
			continue // the same resources under another role (motherRel and mother)
		}
		reported[key] = true
		is := errIssue("invalid", st.b.Path, fmt.Sprintf(
			"%d different resources are the %s (%s): the bundle contradicts itself; send one",
			len(rs), strings.ReplaceAll(name, "_", " "), strings.Join(paths(rs), ", ")))
		is.Expression = paths(rs)
		issues = append(issues, is)
	}
	if len(issues) > 0 {
		return badInput(core.KindUnprocessable, issues...)
	}
	return nil
}

// shadowed lists the people that explicit evidence of a role names
// besides those the role chose: when the alternative that found the role
// is itself explicit evidence (a relationship code, a Patient.link to a
// RelatedPerson with one), the explicit alternatives after it are read
// too, so that a Patient linked to one mother RelatedPerson does not hide
// another, different mother (the bundle contradicts itself). A
// RelatedPerson that a found Patient links to is that Patient, not
// another person. A profile, the strongest evidence, hides the rest as
// it always did.
func (st *state) shadowed(r *roleSpec) []*resource {
	if r == nil || len(r.OneOf) == 0 {
		return nil
	}
	// explicit evidence of a role: a relationship code, or a Patient.link
	// to a resource that has one; not a weaker guess (a female Patient,
	// a deceased date)
	explicit := func(a *roleSpec) bool { return len(a.Relationship) > 0 || strings.HasPrefix(a.Where, "link.") }
	var found []*resource
	k := -1
	for i, alt := range r.OneOf {
		if found = st.selectRole(alt, true); len(found) > 0 {
			k = i
			break
		}
	}
	if k < 0 || !explicit(r.OneOf[k]) {
		return nil
	}
	// seen: the people counted so far and the RelatedPersons they link to
	seen := map[*resource]bool{}
	note := func(c *resource) {
		seen[c] = true
		links, _ := c.Data["link"].([]any)
		for _, l := range links {
			lo, _ := l.(obj)
			other, _ := lo["other"].(obj)
			if o := st.b.resolve(str(other["reference"])); o != nil {
				seen[o] = true
			}
		}
	}
	for _, c := range found {
		note(c)
	}
	var later []*resource
	for _, alt := range r.OneOf[k+1:] {
		if explicit(alt) {
			later = append(later, st.selectRole(alt, true)...)
		}
	}
	// Patients first: a later Patient and the RelatedPerson it links to
	// are one person, whichever alternative found each
	var out []*resource
	for _, patients := range []bool{true, false} {
		for _, c := range later {
			if (c.Type == "Patient") == patients && !seen[c] {
				note(c)
				out = append(out, c)
			}
		}
	}
	return out
}

// person is true for a role that selects people only (Patient or
// RelatedPerson, one match kept): a bundle names each such person once.
func (r *roleSpec) person() bool {
	if r.All {
		return false
	}
	if len(r.OneOf) > 0 {
		for _, alt := range r.OneOf {
			if !alt.person() {
				return false
			}
		}
		return true
	}
	if len(r.Resource) == 0 {
		return false
	}
	for _, t := range r.Resource {
		if t != "Patient" && t != "RelatedPerson" {
			return false
		}
	}
	return true
}

// distinct drops repeats: the same resource reached twice (through two
// references), or entries with the same fullUrl or id. Equal content is
// not enough: unnamed twins of one sex and birth date look identical.
func distinct(rs []*resource) []*resource {
	var out []*resource
	seen := map[string]bool{}
	for _, r := range rs {
		keys := []string{fmt.Sprintf("%p", r)}
		if r.FullURL != "" {
			keys = append(keys, "url:"+r.FullURL)
		}
		if r.ID != "" {
			keys = append(keys, "id:"+r.Type+"/"+r.ID)
		}
		dup := false
		for _, k := range keys {
			dup = dup || seen[k]
			seen[k] = true
		}
		if !dup {
			out = append(out, r)
		}
	}
	return out
}

func paths(rs []*resource) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Path)
	}
	return out
}

func (m *Mapper) noFamily(b *bundle) Issue {
	if len(b.ofType("Patient")) == 0 && len(b.ofType("Composition")) == 0 {
		return errIssue("required", b.Path, fmt.Sprintf("no subject: the %s bundle has no Patient (the child or the deceased) and no Composition, so it notifies no birth or death", b.Type))
	}
	desc := "bundle type " + b.Type
	if comp := b.ofType("Composition"); len(comp) > 0 {
		desc += ", Composition.type " + strings.Join(codes(comp[0].Data["type"]), " / ")
	}
	var types []string
	seen := map[string]bool{}
	for _, r := range b.Resources {
		if !seen[r.Type] {
			seen[r.Type] = true
			types = append(types, r.Type)
		}
	}
	return errIssue("not-supported", b.Path, fmt.Sprintf("no mapping family matches this bundle (%s; resources %s): it is not a birth or death notification this hub understands (families: %s)",
		desc, strings.Join(types, ", "), strings.Join(m.Families(), ", ")))
}

func (st *state) role(name string) []*resource {
	if rs, ok := st.roles[name]; ok {
		return rs
	}
	r := st.spec.Roles[name]
	if r == nil || st.busy[name] {
		return nil
	}
	st.busy[name] = true
	rs := st.selectRole(r, false)
	st.busy[name] = false
	st.roles[name] = rs
	return rs
}

// roleEvery is role with every match kept, also through the roles it
// refers to (the children named by every birth weight, not the first).
func (st *state) roleEvery(name string) []*resource {
	if rs, ok := st.every[name]; ok {
		return rs
	}
	r := st.spec.Roles[name]
	if r == nil || st.busyEvery[name] {
		return nil
	}
	st.busyEvery[name] = true
	rs := st.selectRole(r, true)
	st.busyEvery[name] = false
	st.every[name] = rs
	return rs
}

// selectRole finds the role's resources: the first match, or with every
// (or r.All) all of them.
func (st *state) selectRole(r *roleSpec, every bool) []*resource {
	if len(r.OneOf) > 0 {
		for _, alt := range r.OneOf {
			if rs := st.selectRole(alt, every); len(rs) > 0 {
				return rs
			}
		}
		return nil
	}
	roleOf := st.role
	if every {
		roleOf = st.roleEvery
	}
	var cands []*resource
	if r.Ref != "" {
		var start []node
		if r.ref.role == "bundle" {
			start = []node{{st.b.Data, st.b.Path}}
		} else {
			for _, res := range roleOf(r.ref.role) {
				start = append(start, node{res.Data, res.Path})
			}
		}
		for _, n := range eval(st.b, start, r.ref.segs) {
			o, ok := n.v.(obj)
			if !ok {
				continue
			}
			ref := str(o["reference"])
			if res := st.b.resolve(ref); res != nil {
				cands = append(cands, res)
			} else if k := refKey(ref); strings.HasPrefix(k, "Location/") {
				// a Location named by id only (OpenCRVS: Location/<uuid>):
				// the country config may know it
				cands = append(cands, &resource{Type: "Location", ID: k[len("Location/"):], Path: n.path,
					Data: obj{"resourceType": "Location", "id": k[len("Location/"):]}})
			} else if ref != "" {
				st.dangling(n.path+".reference", ref)
			}
		}
	} else {
		cands = st.b.Resources
	}
	var sectionRefs map[*resource]bool
	if len(r.Section) > 0 {
		sectionRefs = st.sectionMembers(r.Section)
	}
	excluded := map[*resource]bool{}
	for _, x := range r.Exclude {
		for _, e := range roleOf(x) {
			excluded[e] = true
		}
	}
	var about map[*resource]bool
	if r.About != "" {
		about = map[*resource]bool{}
		for _, e := range roleOf(r.About) {
			about[e] = true
		}
	}
	var notAbout map[*resource]bool
	if r.NotAbout != "" {
		notAbout = map[*resource]bool{}
		for _, e := range roleOf(r.NotAbout) {
			notAbout[e] = true
		}
	}
	var out []*resource
	for _, c := range cands {
		if len(r.Resource) > 0 && !slices.Contains(r.Resource, c.Type) {
			continue
		}
		if excluded[c] || (sectionRefs != nil && !sectionRefs[c]) {
			continue
		}
		if len(r.Profile) > 0 && !hasProfile(c.Data, r.Profile) {
			continue
		}
		if len(r.Code) > 0 && !codeMatches(c.Data["code"], r.Code) {
			continue
		}
		if len(r.Type) > 0 && !codeMatches(c.Data["type"], r.Type) {
			continue
		}
		if len(r.Relationship) > 0 && !codeMatches(c.Data["relationship"], r.Relationship) {
			continue
		}
		if r.where != nil && len(eval(st.b, []node{{c.Data, c.Path}}, r.where)) == 0 {
			continue
		}
		if about != nil && !st.isAbout(c, about) {
			continue
		}
		if notAbout != nil && (!hasSubject(c) || st.isAbout(c, notAbout)) {
			continue
		}
		if r.NoSubject && hasSubject(c) {
			continue
		}
		out = append(out, c)
		if !r.All && !every {
			break
		}
	}
	return out
}

// isAbout reports whether the resource's subject (or a RelatedPerson's
// patient) names one of the wanted resources.
func (st *state) isAbout(c *resource, want map[*resource]bool) bool {
	for _, k := range []string{"subject", "patient"} {
		o, _ := c.Data[k].(obj)
		if r := st.b.resolve(str(o["reference"])); r != nil && want[r] {
			return true
		}
	}
	return false
}

// hasSubject reports whether the resource names a subject (or a
// RelatedPerson's patient) by reference.
func hasSubject(c *resource) bool {
	for _, k := range []string{"subject", "patient"} {
		if o, _ := c.Data[k].(obj); str(o["reference"]) != "" {
			return true
		}
	}
	return false
}

// sectionMembers lists the resources referenced by Composition sections
// with one of the codes (any code system: OpenCRVS used several).
func (st *state) sectionMembers(codesWanted []string) map[*resource]bool {
	out := map[*resource]bool{}
	for _, comp := range st.b.ofType("Composition") {
		secs, _ := comp.Data["section"].([]any)
		for si, s := range secs {
			so, _ := s.(obj)
			if !codeMatches(so["code"], codesWanted) {
				continue
			}
			ents, _ := so["entry"].([]any)
			for ei, e := range ents {
				eo, _ := e.(obj)
				if r := st.b.resolve(str(eo["reference"])); r != nil {
					out[r] = true
				} else if ref := str(eo["reference"]); ref != "" {
					st.dangling(fmt.Sprintf("%s.section[%d].entry[%d].reference", comp.Path, si, ei), ref)
				}
			}
		}
		break
	}
	return out
}

func hasProfile(o obj, want []string) bool {
	meta, _ := o["meta"].(obj)
	profs, _ := meta["profile"].([]any)
	for _, p := range profs {
		name := profileName(str(p))
		if name == "" {
			continue
		}
		for _, w := range want {
			if strings.EqualFold(name, profileName(w)) {
				return true
			}
		}
	}
	return false
}

// profileName is the name a profile URL is known by, in any of the
// spellings senders use for one profile: the canonical URL
// (http://hl7.org/fhir/us/vr-common-library/StructureDefinition/Patient-mother-vr),
// a versioned canonical (...|1.0.0), a build.fhir.org or published page
// (.../StructureDefinition-Patient-mother-vr, with or without .html or
// .json, a #fragment or ?query), or the bare name: all are Patient-mother-vr.
func profileName(u string) string {
	u = strings.TrimSpace(u)
	if i := strings.IndexByte(u, '|'); i >= 0 {
		u = u[:i]
	}
	if i := strings.IndexAny(u, "#?"); i >= 0 {
		u = u[:i]
	}
	u = strings.TrimRight(u, "/")
	u = u[strings.LastIndexByte(u, '/')+1:]
	for _, ext := range []string{".html", ".json", ".xml", ".ttl"} {
		u = strings.TrimSuffix(u, ext)
	}
	return strings.TrimPrefix(u, "StructureDefinition-")
}

// codeMatches checks a CodeableConcept (or a list of them, or an STU3
// single object, or a plain string) against "system|code" or "code".
func codeMatches(v any, want []string) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if codeMatches(e, want) {
				return true
			}
		}
		return false
	case string:
		for _, w := range want {
			if strings.EqualFold(x, w) {
				return true
			}
		}
		return false
	case obj:
		var cs []any
		switch c := x["coding"].(type) {
		case []any:
			cs = c
		case obj:
			cs = []any{c}
		}
		if cs == nil && x["code"] != nil { // a bare Coding
			cs = []any{x}
		}
		for _, c := range cs {
			co, _ := c.(obj)
			sys, code := str(co["system"]), str(co["code"])
			for _, w := range want {
				if i := strings.LastIndexByte(w, '|'); i >= 0 {
					if w[:i] == sys && w[i+1:] == code {
						return true
					}
				} else if w == code {
					return true
				}
			}
		}
	}
	return false
}

func (st *state) eval(p path) []node {
	var start []node
	if p.role == "bundle" {
		start = []node{{st.b.Data, st.b.Path}}
	} else {
		for _, r := range st.role(p.role) {
			start = append(start, node{r.Data, r.Path})
		}
	}
	return eval(st.b, start, p.segs)
}

// mapFields runs every field of the spec. sources maps field id -> the
// expression its value came from.
func (m *Mapper) mapFields(spec *familySpec, st *state, ec *core.EventConfig, now time.Time) (core.Declaration, map[string]string, []Issue) {
	decl := core.Declaration{}
	sources := map[string]string{}
	var issues []Issue
	for _, id := range spec.order {
		for _, f := range spec.Fields[id] {
			if (f.When != "" && decl[f.When] == nil) || (f.Unless != "" && decl[f.Unless] != nil) {
				continue
			}
			v, from, tis, stop := m.mapRule(f, st, ec, id, now)
			issues = append(issues, tis...)
			if stop {
				break
			}
			if v == nil {
				continue
			}
			raw, err := json.Marshal(v)
			if err != nil {
				issues = append(issues, warn("processing", from, fmt.Sprintf("%s: value cannot be encoded: %v", id, err)))
				continue
			}
			decl[id] = raw
			sources[id] = from
			break
		}
	}
	return decl, sources, issues
}

// mapRule runs one field rule: its paths in order, until one yields a
// value. A path that finds nodes the transform cannot use (a _birthDate
// holding only another extension) does not hide the next path; its
// warnings are kept only when no later path yields the value (errors
// always are: they refuse the bundle). stop is true when the form has no
// such field.
func (m *Mapper) mapRule(f *fieldSpec, st *state, ec *core.EventConfig, id string, now time.Time) (v any, from string, issues []Issue, stop bool) {
	var pending []Issue
	for _, p := range f.paths {
		nodes := st.eval(p)
		if len(nodes) == 0 {
			continue
		}
		fc := ec.Field(id)
		if fc == nil {
			return nil, "", []Issue{info("informational", nodes[0].path, fmt.Sprintf("%s is not a field of the %s form; left out", id, ec.ID))}, true
		}
		c := &tctx{m: m, b: st.b, fieldID: id, field: fc, args: f.Args, now: now, utc: st.spec.UTCInstants}
		val, tis := transforms[f.Transform].forward(c, nodes)
		if val != nil {
			for _, is := range pending {
				if is.Severity == "error" || is.Severity == "fatal" {
					issues = append(issues, is)
				}
			}
			return val, nodes[0].path, append(issues, tis...), false
		}
		pending = append(pending, tis...)
	}
	return nil, "", pending, false
}

// office finds the registration office named by the bundle.
func (m *Mapper) office(spec *familySpec, st *state, issues *[]Issue) string {
	var facility string
	for _, p := range spec.office {
		for _, n := range st.eval(p) {
			l, key := m.locationFor(st.b, n.v)
			switch {
			case l == nil:
				if key != "" && !hasIssue(*issues, "not-found", n.path) {
					*issues = append(*issues, warn("not-found", n.path, fmt.Sprintf("office %s is not in the country's location list", key)))
				}
			case l.LocationType == core.LocationCRVSOffice:
				return l.ID
			case l.LocationType == core.LocationHealthFacility:
				if strings.Contains(p.src, "regLastOffice") {
					*issues = append(*issues, warn("value", n.path, fmt.Sprintf("regLastOffice %s is a health facility, not a CRVS office", l.Name)))
				}
				if facility == "" {
					facility = l.ID
				}
			default:
				if strings.Contains(p.src, "regLastOffice") {
					*issues = append(*issues, warn("value", n.path, fmt.Sprintf("office %s is a %s, not a CRVS office", l.Name, l.LocationType)))
				}
			}
		}
	}
	return facility
}

func hasIssue(issues []Issue, code, expr string) bool {
	for _, is := range issues {
		if is.Code == code && len(is.Expression) > 0 && is.Expression[0] == expr {
			return true
		}
	}
	return false
}

// transactionID derives a stable id for the notification.
func (m *Mapper) transactionID(outer, target *bundle, body []byte) string {
	ident := func(v any) string {
		o, ok := v.(obj)
		if !ok {
			return ""
		}
		val := strings.TrimSpace(str(o["value"]))
		if val == "" {
			return ""
		}
		if sys := str(o["system"]); sys != "" {
			return sys + "|" + val
		}
		return val
	}
	// The wrapped document's own identifiers come first (its
	// Bundle.identifier, then its Composition's), so a document sent bare
	// and the same document inside a message, whatever the message's
	// identifier or MessageHeader id, are one event.
	id := ""
	wrappedComp := ""
	if comp := target.ofType("Composition"); target != outer && len(comp) > 0 {
		wrappedComp = ident(comp[0].Data["identifier"])
	}
	switch {
	case target != outer && ident(target.Data["identifier"]) != "":
		id = "fhir:" + ident(target.Data["identifier"])
	case wrappedComp != "":
		id = "fhir:" + wrappedComp
	case ident(outer.Data["identifier"]) != "":
		id = "fhir:" + ident(outer.Data["identifier"])
	case len(outer.ofType("MessageHeader")) > 0 && outer.ofType("MessageHeader")[0].idOrURL() != "":
		id = "fhir:MessageHeader/" + outer.ofType("MessageHeader")[0].idOrURL()
	case len(target.ofType("Composition")) > 0 && ident(target.ofType("Composition")[0].Data["identifier"]) != "":
		id = "fhir:" + ident(target.ofType("Composition")[0].Data["identifier"])
	}
	if id != "" && core.ValidTransactionID(id) {
		return id
	}
	canon := []byte(id) // an id the engine cannot take: its digest, still stable
	if id == "" {
		var err error
		if canon, err = json.Marshal(outer.Data); err != nil { // map keys sorted: canonical
			canon = body
		}
	}
	sum := sha256.Sum256(canon)
	return "fhir:sha256:" + hex.EncodeToString(sum[:])
}

// typedChecks decodes the subject with the typed R4 models; a failure is
// reported (the tolerant pass already read it), never fatal.
func typedChecks(st *state, spec *familySpec) []Issue {
	var out []Issue
	for _, r := range st.role(spec.Subject) {
		raw, err := json.Marshal(r.Data)
		if err != nil {
			continue
		}
		if r.Type != "Patient" && r.Type != "RelatedPerson" {
			continue
		}
		if err := typedDecode(r.Type, raw); err != nil {
			out = append(out, info("informational", r.Path, fmt.Sprintf("not strict FHIR R4 (%v); read tolerantly", err)))
		}
	}
	return out
}
