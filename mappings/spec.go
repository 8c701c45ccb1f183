package mappings

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed specs
var embeddedSpecs embed.FS

// strs is a list of strings that may be written as one string.
type strs []string

func (s *strs) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = strs{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or a list of strings")
	}
	*s = many
	return nil
}

// familySpec is one mapping family as written in a spec file.
type familySpec struct {
	Family      string `json:"family"`
	Description string `json:"description,omitempty"`
	Event       string `json:"event"`              // core event type the family maps to
	Priority    int    `json:"priority,omitempty"` // higher is tried first
	Reverse     bool   `json:"reverse,omitempty"`  // ToBundle uses this family for its event type
	Match       struct {
		BundleTypes strs `json:"bundleTypes"`       // document, message, transaction, batch, collection
		Require     strs `json:"require,omitempty"` // roles that must be found
		// Unless names roles whose presence stops the family from
		// matching: evidence that the bundle is another family's report
		// (a birth weight in a bundle whose mother died in childbirth
		// makes it a birth notification, not the mother's death).
		Unless strs `json:"unless,omitempty"`
	} `json:"match"`
	Subject       string                `json:"subject"`                 // the role whose absence refuses the bundle (422)
	Expect        strs                  `json:"expect,omitempty"`        // roles whose absence is a warning (a gap)
	Office        strs                  `json:"office,omitempty"`        // paths to references of the registration office
	SectionSystem string                `json:"sectionSystem,omitempty"` // Composition section code system (reverse)
	Roles         map[string]*roleSpec  `json:"roles"`
	Fields        map[string]fieldRules `json:"fields"`
	// NotRecorded names roles that, when found, are an event this family
	// does not record (a death in a birth notification): each resource
	// found is a warning carrying the note, so the sender knows to
	// notify that event on its own instead of believing it recorded.
	NotRecorded []notRecorded `json:"notRecorded,omitempty"`
	// UTCInstants: a dateTime in UTC (Z, +00:00, -00:00) is an instant
	// whose calendar day is the country's (Settings.TimeZone): hospital
	// systems convert local times to UTC. Off, every date is kept as
	// written: the HL7 VRDR/BFDR libraries write the local clock time
	// with +00:00, and a UTC reading would move the day.
	UTCInstants bool `json:"utcInstants,omitempty"`

	order   []string // field ids: plain fields first, then fields with when
	office  []path
	source  string
	refPath map[string]path
}

// notRecorded is one entry of familySpec.NotRecorded.
type notRecorded struct {
	Role string `json:"role"`
	Note string `json:"note"`
	// Refuse makes a found resource refuse the bundle (422 naming the
	// subject and the resource) instead of a warning: an event that
	// belongs to no other record the sender will send (a death of the
	// newborn, or of someone unrelated, in a birth notification) must
	// not be accepted as a warning nobody acts on.
	Refuse bool `json:"refuse,omitempty"`
	// Event names the event the resources report (death), for the
	// refusal's message.
	Event string `json:"event,omitempty"`
}

// roleSpec selects resources of the bundle for a role.
type roleSpec struct {
	Resource     strs        `json:"resource,omitempty"`     // resource types
	Section      strs        `json:"section,omitempty"`      // Composition section codes
	Profile      strs        `json:"profile,omitempty"`      // meta.profile (suffix after the last / is enough)
	Code         strs        `json:"code,omitempty"`         // Observation.code: "system|code" or "code"
	Type         strs        `json:"type,omitempty"`         // Composition.type / Location.type codes
	Relationship strs        `json:"relationship,omitempty"` // RelatedPerson.relationship codes (R4 list or STU3 object)
	Ref          string      `json:"ref,omitempty"`          // role.path whose References name the resources
	Where        string      `json:"where,omitempty"`        // path=value condition on the resource
	Exclude      strs        `json:"exclude,omitempty"`      // roles whose resources are not candidates
	OneOf        []*roleSpec `json:"oneOf,omitempty"`        // alternatives, first that finds something
	All          bool        `json:"all,omitempty"`          // keep every match (default: the first)
	// About ties the resource to a role: its subject (or a
	// RelatedPerson's patient) must name a resource of that role, so a
	// birth weight is the child's and not the mother's.
	About string `json:"about,omitempty"`
	// NotAbout keeps only resources whose subject (or patient) names
	// something that is not of that role: a birth weight charted to the
	// mother, to be warned about rather than dropped silently.
	NotAbout string `json:"notAbout,omitempty"`
	// NoSubject keeps only resources with no subject (nor patient)
	// reference: a birth weight linked by the Encounter only.
	NoSubject bool `json:"noSubject,omitempty"`

	ref   path
	where []seg
}

// fieldSpec is one rule filling a declaration field.
type fieldSpec struct {
	From      strs           `json:"from"`             // paths; the first that yields values is used
	Transform string         `json:"transform"`        // a registered transform (default string)
	Args      map[string]any `json:"args,omitempty"`   // transform arguments
	When      string         `json:"when,omitempty"`   // only when this declaration field was filled
	Unless    string         `json:"unless,omitempty"` // only when this declaration field was not filled

	paths []path
}

// fieldRules are the rules of one field, written as one rule or a list:
// the first rule that yields a value fills the field.
type fieldRules []*fieldSpec

func (r *fieldRules) UnmarshalJSON(b []byte) error {
	var one fieldSpec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		var many []*fieldSpec
		if err := dec.Decode(&many); err != nil {
			return err
		}
		*r = many
		return nil
	}
	if err := dec.Decode(&one); err != nil {
		return err
	}
	*r = fieldRules{&one}
	return nil
}

func (r fieldRules) conditional() bool {
	for _, f := range r {
		if f.When != "" || f.Unless != "" {
			return true
		}
	}
	return false
}

// decodeStrict reads YAML or JSON; unknown keys are errors.
func decodeStrict(name string, b []byte, v any) error {
	js := b
	if ext := strings.ToLower(filepath.Ext(name)); ext != ".json" {
		var doc any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var err error
		if js, err = json.Marshal(stringKeys(doc)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// stringKeys turns YAML mappings with non-string keys (map: {1: SINGLE})
// into string-keyed maps, so they encode as JSON objects.
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = stringKeys(e)
		}
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = stringKeys(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = stringKeys(e)
		}
	}
	return v
}

// normaliseArgs turns numbers into json.Number-free values and nested maps
// into obj, so transforms see one shape.
func normaliseArgs(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normaliseArgs(e)
		}
		return obj(x)
	case []any:
		for i, e := range x {
			x[i] = normaliseArgs(e)
		}
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
}

func (r *roleSpec) compile(s *familySpec, name string) error {
	if r.Ref != "" {
		p, err := compilePath(r.Ref)
		if err != nil {
			return fmt.Errorf("role %s: ref: %w", name, err)
		}
		if p.role != "bundle" && s.Roles[p.role] == nil {
			return fmt.Errorf("role %s: ref names unknown role %q", name, p.role)
		}
		r.ref = p
	}
	if r.Where != "" {
		w, err := compileSegs("where(" + r.Where + ")")
		if err != nil {
			return fmt.Errorf("role %s: where: %w", name, err)
		}
		r.where = w
	}
	for _, x := range r.Exclude {
		if s.Roles[x] == nil {
			return fmt.Errorf("role %s: exclude names unknown role %q", name, x)
		}
	}
	if r.About != "" && s.Roles[r.About] == nil {
		return fmt.Errorf("role %s: about names unknown role %q", name, r.About)
	}
	if r.NotAbout != "" && s.Roles[r.NotAbout] == nil {
		return fmt.Errorf("role %s: notAbout names unknown role %q", name, r.NotAbout)
	}
	if len(r.Resource) == 0 && r.Ref == "" && len(r.OneOf) == 0 {
		return fmt.Errorf("role %s: needs resource, ref or oneOf", name)
	}
	for _, alt := range r.OneOf {
		if err := alt.compile(s, name); err != nil {
			return err
		}
	}
	return nil
}

// compile checks a spec and prepares its paths.
func (s *familySpec) compile() error {
	if s.Family == "" {
		return fmt.Errorf("family is required")
	}
	if s.Event == "" {
		return fmt.Errorf("family %s: event is required", s.Family)
	}
	if len(s.Match.BundleTypes) == 0 {
		return fmt.Errorf("family %s: match.bundleTypes is required", s.Family)
	}
	for _, t := range s.Match.BundleTypes {
		switch t {
		case "document", "message", "transaction", "batch", "collection":
		default:
			return fmt.Errorf("family %s: unknown bundle type %q", s.Family, t)
		}
	}
	if s.Roles == nil {
		s.Roles = map[string]*roleSpec{}
	}
	for name, r := range s.Roles {
		if name == "bundle" {
			return fmt.Errorf("family %s: role name bundle is reserved", s.Family)
		}
		if r == nil {
			return fmt.Errorf("family %s: role %s is empty", s.Family, name)
		}
		if err := r.compile(s, name); err != nil {
			return fmt.Errorf("family %s: %w", s.Family, err)
		}
	}
	for _, nr := range s.NotRecorded {
		if s.Roles[nr.Role] == nil || nr.Note == "" || (nr.Refuse && nr.Event == "") {
			return fmt.Errorf("family %s: notRecorded needs a known role and a note, and an event when it refuses (role %q)", s.Family, nr.Role)
		}
	}
	for _, list := range []strs{s.Match.Require, s.Match.Unless, s.Expect, {s.Subject}} {
		for _, r := range list {
			if r == "" {
				continue
			}
			if s.Roles[r] == nil {
				return fmt.Errorf("family %s: unknown role %q", s.Family, r)
			}
		}
	}
	if s.Subject == "" {
		return fmt.Errorf("family %s: subject (a role) is required", s.Family)
	}
	for _, o := range s.Office {
		p, err := compilePath(o)
		if err != nil {
			return fmt.Errorf("family %s: office: %w", s.Family, err)
		}
		if p.role != "bundle" && s.Roles[p.role] == nil {
			return fmt.Errorf("family %s: office names unknown role %q", s.Family, p.role)
		}
		s.office = append(s.office, p)
	}
	var plain, cond []string
	for id, rules := range s.Fields {
		if len(rules) == 0 {
			return fmt.Errorf("family %s: field %s: no rule", s.Family, id)
		}
		for i, f := range rules {
			if err := s.compileField(id, f); err != nil {
				if len(rules) > 1 {
					return fmt.Errorf("family %s: field %s rule %d: %w", s.Family, id, i+1, err)
				}
				return fmt.Errorf("family %s: field %s: %w", s.Family, id, err)
			}
		}
		if rules.conditional() {
			cond = append(cond, id)
		} else {
			plain = append(plain, id)
		}
	}
	sort.Strings(plain)
	sort.Strings(cond)
	// conditional fields after the fields they name (a small topological
	// sort; a cycle is an error)
	done := map[string]bool{}
	for _, id := range plain {
		done[id] = true
	}
	s.order = plain
	for len(cond) > 0 {
		var rest []string
		for _, id := range cond {
			ready := true
			for _, f := range s.Fields[id] {
				for _, dep := range []string{f.When, f.Unless} {
					if dep != "" && !done[dep] {
						ready = false
					}
				}
			}
			if ready {
				done[id] = true
				s.order = append(s.order, id)
			} else {
				rest = append(rest, id)
			}
		}
		if len(rest) == len(cond) {
			return fmt.Errorf("family %s: fields %s depend on each other through when/unless", s.Family, strings.Join(rest, ", "))
		}
		cond = rest
	}
	return nil
}

func (s *familySpec) compileField(id string, f *fieldSpec) error {
	if f == nil || len(f.From) == 0 {
		return fmt.Errorf("from is required")
	}
	if f.Transform == "" {
		f.Transform = "string"
	}
	t, ok := transforms[f.Transform]
	if !ok {
		return fmt.Errorf("unknown transform %q (known: %s)", f.Transform, strings.Join(transformNames(), ", "))
	}
	if f.Args == nil {
		f.Args = map[string]any{}
	}
	f.Args = normaliseArgs(f.Args).(obj)
	if t.check != nil {
		if err := t.check(f.Args); err != nil {
			return err
		}
	}
	if s.Reverse && f.Transform == "lookup" {
		if err := checkLookupReverse(f.Args); err != nil {
			return err
		}
	}
	for _, src := range f.From {
		p, err := compilePath(src)
		if err != nil {
			return err
		}
		if p.role != "bundle" && s.Roles[p.role] == nil {
			return fmt.Errorf("unknown role %q", p.role)
		}
		f.paths = append(f.paths, p)
	}
	for _, dep := range []string{f.When, f.Unless} {
		if dep == "" {
			continue
		}
		if _, ok := s.Fields[dep]; !ok {
			return fmt.Errorf("when/unless names field %q that the spec does not map", dep)
		}
		if dep == id {
			return fmt.Errorf("when/unless names the field itself")
		}
	}
	return nil
}

// loadSpecs reads the embedded specs overlaid with <configDir>/fhir.
func loadSpecs(configDir string) (map[string]*familySpec, error) {
	out := map[string]*familySpec{}
	read := func(fsys fs.FS, dir, origin string) error {
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("mapping specs %s: %w", origin, err)
		}
		seen := map[string]string{}
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
				continue
			}
			b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
			if err != nil {
				return fmt.Errorf("mapping spec %s: %w", e.Name(), err)
			}
			s := &familySpec{}
			if err := decodeStrict(e.Name(), b, s); err != nil {
				return fmt.Errorf("mapping spec %s/%s: %w", origin, e.Name(), err)
			}
			if err := s.compile(); err != nil {
				return fmt.Errorf("mapping spec %s/%s: %w", origin, e.Name(), err)
			}
			if prev, dup := seen[s.Family]; dup {
				return fmt.Errorf("mapping spec %s/%s: family %s is also defined in %s", origin, e.Name(), s.Family, prev)
			}
			seen[s.Family] = e.Name()
			s.source = origin + "/" + e.Name()
			out[s.Family] = s
		}
		return nil
	}
	if err := read(embeddedSpecs, "specs", "embedded"); err != nil {
		return nil, err
	}
	if configDir != "" {
		if err := read(os.DirFS(configDir), "fhir", filepath.Join(configDir, "fhir")); err != nil {
			return nil, err
		}
	}
	return out, nil
}
