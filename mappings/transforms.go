package mappings

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
)

// tctx is what a transform sees: the field it fills, its spec arguments
// and the bundle (for references).
type tctx struct {
	m       *Mapper
	b       *bundle
	fieldID string
	field   *core.FieldConfig
	args    map[string]any
	now     time.Time
	// utc: the family reads Z/+00:00 as a UTC instant (its calendar day
	// is the country's); see familySpec.UTCInstants.
	utc bool
}

// transform is one named transform: forward (FHIR nodes -> declaration
// value, nil = nothing) and reverse (declaration value -> FHIR fragment
// for the last step of the path; nil = nothing to write).
type transform struct {
	forward func(c *tctx, nodes []node) (any, []Issue)
	reverse func(c *tctx, v any) any
	check   func(args map[string]any) error
}

// transforms is the registry of named transforms a spec may use.
var transforms = map[string]transform{
	"string":     {forward: tString, reverse: func(c *tctx, v any) any { return v }},
	"text":       {forward: tText, reverse: func(c *tctx, v any) any { return v }},
	"number":     {forward: tNumber, reverse: func(c *tctx, v any) any { return v }},
	"boolean":    {forward: tBoolean, reverse: func(c *tctx, v any) any { return v }},
	"name":       {forward: tName, reverse: rName},
	"gender":     {forward: tGender, reverse: func(c *tctx, v any) any { return v }},
	"date":       {forward: tDate, reverse: func(c *tctx, v any) any { return v }},
	"datetime":   {forward: tDateTime, reverse: func(c *tctx, v any) any { return v }},
	"quantity":   {forward: tQuantity, reverse: rQuantity, check: checkQuantity},
	"identifier": {forward: tIdentifier, reverse: rIdentifier, check: checkIDKind},
	"idType":     {forward: tIDType},
	"address":    {forward: tAddress, reverse: rAddress},
	"location":   {forward: tLocation, reverse: rLocation},
	"lookup":     {forward: tLookup, reverse: rLookup, check: checkLookup},
	"const":      {forward: tConst, reverse: rConst, check: checkConst},
	"country":    {forward: tCountry, reverse: func(c *tctx, v any) any { return v }},
}

// transformNames lists the registered transform names, sorted.
func transformNames() []string {
	out := make([]string, 0, len(transforms))
	for k := range transforms {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *tctx) warn(code string, n *node, format string, a ...any) []Issue {
	p := ""
	if n != nil {
		p = n.path
	}
	return []Issue{warn(code, p, c.fieldID+": "+fmt.Sprintf(format, a...)+"; left out")}
}

func (c *tctx) fail(code string, n *node, format string, a ...any) []Issue {
	p := ""
	if n != nil {
		p = n.path
	}
	return []Issue{errIssue(code, p, c.fieldID+": "+fmt.Sprintf(format, a...))}
}

func argString(args map[string]any, k string) string {
	s, _ := args[k].(string)
	return s
}

func argStrings(args map[string]any, k string) []string {
	switch x := args[k].(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, str(e))
		}
		return out
	}
	return nil
}

// codes lists the codes a value carries: a string, a Coding, a
// CodeableConcept (codings then text) or a Quantity's value.
func codes(v any) []string {
	switch x := v.(type) {
	case string, json.Number, bool:
		if s := strings.TrimSpace(str(x)); s != "" {
			return []string{s}
		}
	case obj:
		var out []string
		if s := str(x["code"]); s != "" {
			out = append(out, s)
		}
		if cs, ok := x["coding"].([]any); ok {
			for _, c := range cs {
				out = append(out, codes(c)...)
			}
		} else if c, ok := x["coding"].(obj); ok { // STU3-ish single coding
			out = append(out, codes(c)...)
		}
		if s := str(x["value"]); s != "" {
			out = append(out, s)
		}
		for _, k := range []string{"text", "display"} {
			if s := strings.TrimSpace(str(x[k])); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func tString(c *tctx, nodes []node) (any, []Issue) {
	for _, n := range nodes {
		if cs := codes(n.v); len(cs) > 0 {
			return cs[0], nil
		}
	}
	return nil, nil
}

func tText(c *tctx, nodes []node) (any, []Issue) {
	var parts []string
	seen := map[string]bool{}
	for _, n := range nodes {
		s := ""
		if o, ok := n.v.(obj); ok {
			s = strings.TrimSpace(str(o["text"]))
			if s == "" {
				if cs, _ := o["coding"].([]any); len(cs) > 0 {
					co, _ := cs[0].(obj)
					s = strings.TrimSpace(str(co["display"]))
					if s == "" {
						s = str(co["code"])
					}
				}
			}
		} else {
			s = strings.TrimSpace(str(n.v))
		}
		if s != "" && !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	return strings.Join(parts, "; "), nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

func tNumber(c *tctx, nodes []node) (any, []Issue) {
	for _, n := range nodes {
		v := n.v
		if o, ok := v.(obj); ok {
			v = o["value"]
		}
		if f, ok := toFloat(v); ok {
			return round3(f), nil
		}
		return nil, c.warn("value", &n, "%q is not a number", str(v))
	}
	return nil, nil
}

func tBoolean(c *tctx, nodes []node) (any, []Issue) {
	for _, n := range nodes {
		for _, s := range codes(n.v) {
			switch strings.ToLower(s) {
			case "true", "y", "yes", "1":
				return true, nil
			case "false", "n", "no", "0":
				return false, nil
			}
		}
		return nil, c.warn("code-invalid", &n, "not a yes/no value")
	}
	return nil, nil
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// ---- names

func strList(v any) []string {
	switch x := v.(type) {
	case string:
		if s := strings.TrimSpace(x); s != "" {
			return []string{s}
		}
	case []any: // given is a list; STU3 family was a list too
		var out []string
		for _, e := range x {
			if s := strings.TrimSpace(str(e)); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

var nameUseRank = map[string]int{"official": 0, "usual": 1, "": 2}

// nameParts reads a HumanName's given names and family name; a name with
// neither falls back to its text, last word as the family name. Suffixes
// stay out of the family name: HumanName.suffix holds qualifications (MD,
// Ph.D.) as well as generations (Jr., II), and the surname is what the
// registers and searches match on; sfx returns them to be reported.
func nameParts(o obj) (given []string, family string, sfx []string) {
	given = strList(o["given"])
	family = strings.Join(strList(o["family"]), " ")
	if len(given) == 0 && family == "" {
		if t := strings.Fields(str(o["text"])); len(t) > 0 {
			return t[:len(t)-1], t[len(t)-1], nil
		}
		return nil, "", nil
	}
	return given, family, strList(o["suffix"])
}

// tName picks the best-ranked name (official, then usual, then one without
// a use, then maiden/nickname/old...) among the names that hold something:
// an official name whose parts are all absent (an unnamed newborn's
// data-absent family) does not hide a usable usual name. A temp,
// anonymous, nickname, old or maiden name never stands in for an official
// name that is there but empty: "Baby Boy" is a placeholder, not the
// child's name, so the name is left out (the declaration is incomplete).
func tName(c *tctx, nodes []node) (any, []Issue) {
	var given, sfx []string
	family := ""
	rank := 99
	var at *node
	hasOfficial := false
	for _, n := range nodes {
		if o, ok := n.v.(obj); ok && strings.EqualFold(str(o["use"]), "official") {
			hasOfficial = true
		}
	}
	for i, n := range nodes {
		o, ok := n.v.(obj)
		if !ok {
			continue
		}
		u := strings.ToLower(str(o["use"]))
		r, ok := nameUseRank[u]
		if !ok {
			switch u {
			case "maiden", "nickname", "old", "anonymous", "temp":
				if hasOfficial {
					continue
				}
				r = 10
			default:
				r = 2 // "en", "bn": a language, not an R4 use (OpenCRVS v1)
			}
		}
		if r >= rank {
			continue
		}
		g, f, x := nameParts(o)
		if len(g) == 0 && f == "" {
			continue
		}
		given, family, sfx, rank, at = g, f, x, r, &nodes[i]
	}
	if len(given) == 0 && family == "" {
		return nil, nil
	}
	out := map[string]any{"surname": family}
	if len(given) > 0 {
		out["firstname"] = given[0]
	} else {
		out["firstname"] = ""
	}
	if len(given) > 1 {
		out["middlename"] = strings.Join(given[1:], " ")
	}
	var issues []Issue
	if len(sfx) > 0 {
		issues = append(issues, info("informational", at.path+".suffix", fmt.Sprintf(
			"%s: name suffix %s (a qualification or generation) is not part of the surname; not recorded", c.fieldID, strings.Join(sfx, " "))))
	}
	return out, issues
}

func rName(c *tctx, v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	var given []any
	if s := str(m["firstname"]); s != "" {
		given = append(given, s)
	}
	for _, s := range strings.Fields(str(m["middlename"])) {
		given = append(given, s)
	}
	hn := obj{"use": "official"}
	if len(given) > 0 {
		hn["given"] = given
	}
	if s := str(m["surname"]); s != "" {
		hn["family"] = s
	}
	return []any{hn}
}

// ---- gender

func tGender(c *tctx, nodes []node) (any, []Issue) {
	for _, n := range nodes {
		for _, s := range codes(n.v) {
			g := ""
			switch strings.ToLower(s) {
			case "male", "m":
				g = "male"
			case "female", "f":
				g = "female"
			case "other", "unknown", "unk", "u", "o", "asku", "nask":
				g = "unknown"
			}
			if m, ok := c.args["map"].(obj); ok {
				if x := str(m[s]); x != "" {
					g = x
				}
			}
			if g != "" {
				if c.field != nil && len(c.field.Options) > 0 && !slices.Contains(c.field.Options, g) {
					return nil, c.warn("code-invalid", &n, "sex %q has no option in the form", g)
				}
				return g, nil
			}
		}
		return nil, c.warn("code-invalid", &n, "unknown sex code %q", strings.Join(codes(n.v), ","))
	}
	return nil, nil
}

// ---- dates

var (
	reDate     = regexp.MustCompile(`^(\d{4})(-(\d{2})(-(\d{2}))?)?$`)
	reDateTime = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$`)
)

// partialFromExt reads the VRCL partial-date(-time) and the older VRDR
// PartialDate(Time) extensions: year, month, day (and time) sub-extensions,
// each possibly data-absent.
func partialFromExt(o obj) (y, mo, d int, tm string, found bool) {
	exts, _ := o["extension"].([]any)
	for _, e := range exts {
		eo, _ := e.(obj)
		u := str(eo["url"])
		if !(strings.Contains(u, "partial-date") || urlMatches(u, "PartialDate") || urlMatches(u, "PartialDateTime")) {
			continue
		}
		found = true
		subs, _ := eo["extension"].([]any)
		for _, s := range subs {
			so, _ := s.(obj)
			su := strings.ToLower(str(so["url"]))
			if i := strings.LastIndexByte(su, '/'); i >= 0 {
				su = su[i+1:]
			}
			su = strings.TrimPrefix(su, "date-")
			var val any
			for k, v := range so {
				if strings.HasPrefix(k, "value") {
					val = v
				}
			}
			n, _ := strconv.Atoi(str(val))
			switch su {
			case "year":
				y = n
			case "month":
				mo = n
			case "day":
				d = n
			case "time":
				tm = str(val)
			}
		}
	}
	return
}

// dateValue returns the date (YYYY-MM-DD) a node holds: a date or dateTime
// string, or a primitive extension object with patient-birthTime or a
// partial date. partial names what was there when the date is incomplete.
//
// The calendar day of a dateTime: a time written with a non-zero offset
// (2026-04-10T23:30:00-05:00) or with none is the sender's local time, and
// its date is kept as written. A time in UTC (Z, +00:00 or -00:00) is an
// instant that says nothing of the sender's clock (systems convert local
// times to UTC before sending), and its UTC date can be the day before or
// after the local one (2026-04-10T23:30:00Z is 01:30 on 11 April in
// Lusaka). Its date is taken in the country's time zone (tz,
// Settings.TimeZone). tz nil keeps every date as written: for families
// whose senders write local clock time with +00:00 (the HL7 VRDR/BFDR
// libraries), where a UTC reading would move the day. dt is always the
// string as written.
func dateValue(v any, tz *time.Location) (date, dt, partial string, bad bool) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if m := reDateTime.FindStringSubmatch(s); m != nil {
			layout := "2006-01-02T15:04"
			if m[6] != "" {
				layout += ":05" // fractional seconds are read without a layout
			}
			zone := m[8]
			if zone != "" {
				layout += "Z07:00"
			}
			// FHIR allows a leap second (ss = 60), which time.Parse
			// refuses: read it as :59 (the same calendar day)
			ps := s
			if strings.HasPrefix(m[6], ":60") {
				ps = s[:17] + "59" + s[19:]
			}
			t, err := time.Parse(layout, ps)
			if err != nil {
				return "", "", "", true
			}
			if tz != nil && (zone == "Z" || zone == "+00:00" || zone == "-00:00") {
				return t.In(tz).Format("2006-01-02"), s, "", false
			}
			return s[:10], s, "", false
		}
		if m := reDate.FindStringSubmatch(s); m != nil {
			if m[5] == "" {
				return "", "", s, false
			}
			if _, err := time.Parse("2006-01-02", s); err != nil {
				return "", "", "", true
			}
			return s, "", "", false
		}
		return "", "", "", true
	case obj:
		exts, _ := x["extension"].([]any)
		for _, e := range exts {
			eo, _ := e.(obj)
			if urlMatches(str(eo["url"]), "patient-birthTime") {
				return dateValue(str(eo["valueDateTime"]), tz)
			}
		}
		y, mo, d, tm, found := partialFromExt(x)
		if !found {
			return "", "", "", false
		}
		if y > 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 {
			s := fmt.Sprintf("%04d-%02d-%02d", y, mo, d)
			if _, err := time.Parse("2006-01-02", s); err != nil {
				return "", "", "", true
			}
			if tm != "" {
				return s, s + "T" + tm, "", false
			}
			return s, "", "", false
		}
		var parts []string
		if y > 0 {
			parts = append(parts, fmt.Sprintf("%04d", y))
		} else {
			parts = append(parts, "????")
		}
		for _, n := range []int{mo, d} {
			if n > 0 {
				parts = append(parts, fmt.Sprintf("%02d", n))
			} else {
				parts = append(parts, "??")
			}
		}
		return "", "", strings.Join(parts, "-"), false
	case json.Number, bool:
		return "", "", "", true
	}
	return "", "", "", false
}

// zone is the country's time zone, for the calendar day of UTC instants;
// nil when the family does not read UTC times as instants.
func (c *tctx) zone() *time.Location {
	if !c.utc {
		return nil
	}
	if c.m == nil || c.m.cc == nil {
		return time.UTC
	}
	return c.m.cc.Zone()
}

func tDate(c *tctx, nodes []node) (any, []Issue) {
	var issues []Issue
	for _, n := range nodes {
		date, _, partial, bad := dateValue(n.v, c.zone())
		switch {
		case bad:
			return nil, c.fail("value", &n, "%q is not a valid date (expected YYYY-MM-DD or a FHIR dateTime)", str(n.v))
		case date != "":
			return date, nil
		case partial != "":
			issues = c.warn("incomplete", &n, "partial date %s cannot fill a full date", partial)
		}
	}
	return nil, issues
}

func tDateTime(c *tctx, nodes []node) (any, []Issue) {
	var issues []Issue
	for _, n := range nodes {
		date, dt, partial, bad := dateValue(n.v, c.zone())
		switch {
		case bad:
			return nil, c.fail("value", &n, "%q is not a valid dateTime", str(n.v))
		case dt != "":
			return dt, nil
		case date != "":
			return date, nil
		case partial != "":
			issues = c.warn("incomplete", &n, "partial date %s cannot fill a date and time", partial)
		}
	}
	return nil, issues
}

// ---- quantities (UCUM)

type unitDef struct {
	dim    string
	factor float64 // to the dimension's base unit (kg, year, m)
}

// units maps UCUM codes and the spellings senders use to their dimension.
var units = map[string]unitDef{
	"kg": {"mass", 1}, "g": {"mass", 0.001}, "mg": {"mass", 1e-6},
	"[lb_av]": {"mass", 0.45359237}, "lb_av": {"mass", 0.45359237}, "lb": {"mass", 0.45359237}, "lbs": {"mass", 0.45359237},
	"[oz_av]": {"mass", 0.028349523125}, "oz_av": {"mass", 0.028349523125}, "oz": {"mass", 0.028349523125},
	"a": {"time", 1}, "yr": {"time", 1}, "year": {"time", 1}, "years": {"time", 1},
	"mo": {"time", 1.0 / 12}, "month": {"time", 1.0 / 12}, "months": {"time", 1.0 / 12},
	"wk": {"time", 7 / 365.25}, "week": {"time", 7 / 365.25}, "weeks": {"time", 7 / 365.25},
	"d": {"time", 1 / 365.25}, "day": {"time", 1 / 365.25}, "days": {"time", 1 / 365.25},
	"h": {"time", 1 / 8766.0}, "hour": {"time", 1 / 8766.0}, "hours": {"time", 1 / 8766.0},
	"min": {"time", 1 / 525960.0}, "minutes": {"time", 1 / 525960.0},
	"m": {"length", 1}, "cm": {"length", 0.01}, "mm": {"length", 0.001}, "[in_i]": {"length", 0.0254}, "in_i": {"length", 0.0254}, "in": {"length", 0.0254},
}

func lookupUnit(u string) (unitDef, bool) {
	if d, ok := units[u]; ok {
		return d, true
	}
	d, ok := units[strings.ToLower(u)]
	return d, ok
}

func checkQuantity(args map[string]any) error {
	u := argString(args, "unit")
	if _, ok := lookupUnit(u); !ok {
		return fmt.Errorf("quantity: unit %q is not a known UCUM unit", u)
	}
	if a := argString(args, "assume"); a != "" {
		if _, ok := lookupUnit(a); !ok {
			return fmt.Errorf("quantity: assume %q is not a known UCUM unit", a)
		}
	}
	return nil
}

// convertQuantity converts v from unit `from` to unit `to`.
func convertQuantity(v float64, from, to string) (float64, error) {
	fd, ok := lookupUnit(from)
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", from)
	}
	td, ok := lookupUnit(to)
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", to)
	}
	if fd.dim != td.dim {
		return 0, fmt.Errorf("unit %q is not a %s unit like %q", from, td.dim, to)
	}
	return v * fd.factor / td.factor, nil
}

func tQuantity(c *tctx, nodes []node) (any, []Issue) {
	for _, n := range nodes {
		o, ok := n.v.(obj)
		if !ok {
			return nil, c.warn("value", &n, "not a Quantity")
		}
		raw := o["value"]
		if raw == nil {
			return nil, c.warn("incomplete", &n, "quantity without a value")
		}
		v, ok := toFloat(raw)
		if !ok {
			return nil, c.warn("value", &n, "quantity value %q is not a number", str(raw))
		}
		from := str(o["code"])
		if from == "" {
			from = str(o["unit"])
		}
		if from == "" {
			from = argString(c.args, "assume")
		}
		to := argString(c.args, "unit")
		if from == "" {
			return nil, c.warn("value", &n, "quantity without a unit (expected %s)", to)
		}
		out, err := convertQuantity(v, from, to)
		if err != nil {
			return nil, c.warn("value", &n, "%v", err)
		}
		out = round3(out)
		if c.field != nil && c.field.Type == core.FieldNumberWithUnit {
			return map[string]any{"numericValue": out, "unit": to}, nil
		}
		return out, nil
	}
	return nil, nil
}

func rQuantity(c *tctx, v any) any {
	u := argString(c.args, "unit")
	if m, ok := v.(map[string]any); ok {
		v = m["numericValue"]
		if s := str(m["unit"]); s != "" {
			u = s
		}
	}
	return obj{"value": v, "unit": u, "system": "http://unitsofmeasure.org", "code": u}
}

// ---- identifiers

// idKinds are the identifier type codes (OpenCRVS identifier-type, HL7 v2
// table 0203, plain strings) that fill each kind of id field. nid is not
// here: which identifiers are the country's national ID is country
// config (nidRule).
var idKinds = map[string][]string{
	"nid":      nil,
	"passport": {"PASSPORT", "PPN"},
	"brn":      {"BIRTH_REGISTRATION_NUMBER", "BRN", "BR"},
}

var idKindType = map[string]string{"nid": "NATIONAL_ID", "passport": "PASSPORT", "brn": "BIRTH_REGISTRATION_NUMBER"}

var idKindOrder = []string{"nid", "passport", "brn"}

func checkIDKind(args map[string]any) error {
	k := argString(args, "kind")
	if _, ok := idKinds[k]; !ok && len(argStrings(args, "types")) == 0 {
		return fmt.Errorf("identifier: kind must be nid, passport or brn (or give types)")
	}
	return nil
}

// identifierTypes lists an Identifier's type codes: type.coding codes,
// type.text, a plain string type (old OpenCRVS data).
func identifierTypes(o obj) []string {
	var out []string
	switch t := o["type"].(type) {
	case string:
		out = append(out, t)
	case obj:
		out = codes(t)
	}
	return out
}

// idRule says which Identifiers fill a kind of id field.
type idRule struct {
	types   []string
	systems []string
	// ownSystemsOnly: an identifier with a system not in systems never
	// matches, whatever its type (the national ID: a type code such as
	// NI says "a national id", the system says whose).
	ownSystemsOnly bool
}

func (r idRule) typeMatch(o obj) bool {
	for _, t := range identifierTypes(o) {
		for _, w := range r.types {
			if strings.EqualFold(t, w) {
				return true
			}
		}
	}
	return false
}

func (r idRule) match(o obj) bool {
	sys := str(o["system"])
	if sys != "" && slices.Contains(r.systems, sys) {
		return true
	}
	if sys != "" && r.ownSystemsOnly {
		return false
	}
	return r.typeMatch(o)
}

// nidRule is the country's national ID rule (Settings.NIDSystems,
// NIDTypes). A US SSN (type SS/SB, system us-ssn) is not a national ID of
// this country and is never sent to its National ID system as a UIN.
func nidRule(cc *core.CountryConfig) idRule {
	r := idRule{ownSystemsOnly: true}
	if cc != nil {
		r.systems = cc.Settings.NIDSystems
		r.types = cc.Settings.NIDTypes
	}
	if len(r.types) == 0 {
		r.types = []string{"NATIONAL_ID", "NID", "NI", "MOSIP_UIN"}
		if cc != nil && cc.Settings.CountryCode != "" {
			r.types = append(r.types, "NN"+cc.Settings.CountryCode) // HL7 v2 NNxxx: national person id of country xxx
		}
	}
	return r
}

// ruleFor builds the rule of a spec's identifier args: explicit types or
// systems, else the kind's (nid: the country's rule).
func (c *tctx) ruleFor(args map[string]any) idRule {
	types, systems := argStrings(args, "types"), argStrings(args, "systems")
	if len(types) > 0 || len(systems) > 0 {
		return idRule{types: types, systems: systems}
	}
	k := argString(args, "kind")
	if k == "nid" {
		var cc *core.CountryConfig
		if c.m != nil {
			cc = c.m.cc
		}
		return nidRule(cc)
	}
	return idRule{types: idKinds[k]}
}

// suspiciousID reports an identifier value that looks like a stand-in
// (separators ignored): zeros only (000000000), or one digit repeated six
// times or more (5555555555). Such numbers are legitimate in demo
// countries and possible in real registers, so they are kept, with a
// warning: only the sender can say a number is unknown.
func suspiciousID(v string) bool {
	v = strings.NewReplacer("-", "", " ", "", ".", "", "/", "").Replace(v)
	if v == "" || v[0] < '0' || v[0] > '9' || strings.Count(v, v[:1]) != len(v) {
		return false
	}
	return v[0] == '0' || len(v) >= 6
}

// dataAbsentURL is the extension by which FHIR says a value is missing,
// and why (unknown, masked, asked-declined...).
const dataAbsentURL = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

// absentReason is the data-absent reason the sender put on an Identifier
// or on its value (_value), or "".
func absentReason(o obj) string {
	for _, holder := range []any{o, o["_value"]} {
		ho, _ := holder.(obj)
		exts, _ := ho["extension"].([]any)
		for _, e := range exts {
			eo, _ := e.(obj)
			if u, _ := eo["url"].(string); urlMatches(u, dataAbsentURL) || u == "data-absent-reason" {
				if r := str(eo["valueCode"]); r != "" {
					return r
				}
				return "unknown"
			}
		}
	}
	return ""
}

// maskedID reports a value the sender masked: it holds a star or a
// bullet (never part of an identifier), or, separators ignored, it is
// made of mask characters (X, x, #) and digits only, with three or more
// mask characters (XXX-XX-1234, ###-##-1234, xxxxxx1234). Letters beside
// them are the identifier's own (a passport XXXL12345B, an MRN#20231):
// kept.
func maskedID(v string) bool {
	if strings.ContainsAny(v, "*•") {
		return true
	}
	v = strings.NewReplacer("-", "", " ", "", ".", "", "/", "").Replace(v)
	masks := 0
	for _, r := range v {
		switch {
		case r == 'X' || r == 'x' || r == '#':
			masks++
		case r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return masks >= 3
}

// idValue returns the value of the first identifier that matches the
// rule. Every well-formed value is kept (the form's own rules judge it
// afterwards); one that looks like a stand-in (5555555555) is kept with a
// warning. Only an identifier the sender itself marks as unknown (a
// data-absent-reason on it or its value, a masked value) is left out,
// with an information issue.
//
// An identifier of a national-id type skipped only because its system is
// not the country's (Settings.NIDSystems) is warned about, naming the
// system and the setting: a register's NID sent with its system would
// otherwise vanish without a word (and never reach the National ID
// system) until the country lists that system.
func (c *tctx) idValue(nodes []node, r idRule) (string, []Issue) {
	var issues []Issue
	if r.ownSystemsOnly {
		for i := range nodes {
			n := &nodes[i]
			o, ok := n.v.(obj)
			if !ok || r.match(o) || !r.typeMatch(o) || strings.TrimSpace(str(o["value"])) == "" {
				continue
			}
			issues = append(issues, c.warn("value", n,
				"identifier of national-id type %s has system %s, which is not one of this country's national ID systems (setting nidSystems: [%s]); not taken as the national ID (add the system to nidSystems if it is this country's register)",
				strings.Join(identifierTypes(o), "/"), str(o["system"]), strings.Join(r.systems, ", "))...)
		}
	}
	for _, n := range nodes {
		o, ok := n.v.(obj)
		if !ok || !r.match(o) {
			continue
		}
		v := strings.TrimSpace(str(o["value"]))
		if reason := absentReason(o); reason != "" {
			issues = append(issues, info("informational", n.path, fmt.Sprintf("%s: the sender marks this identifier as absent (%s); left out", c.fieldID, reason)))
			continue
		}
		if v == "" {
			continue
		}
		if maskedID(v) {
			issues = append(issues, info("informational", n.path, fmt.Sprintf("%s: identifier value %s is masked by the sender; left out", c.fieldID, v)))
			continue
		}
		if suspiciousID(v) {
			issues = append(issues, warn("value", n.path, fmt.Sprintf("%s: identifier value %s is one digit repeated, which often stands for an unknown number; kept as sent (check it)", c.fieldID, v)))
		}
		return v, issues
	}
	return "", issues
}

func tIdentifier(c *tctx, nodes []node) (any, []Issue) {
	v, issues := c.idValue(nodes, c.ruleFor(c.args))
	if v == "" {
		return nil, issues
	}
	return v, issues
}

func rIdentifier(c *tctx, v any) any {
	t := argString(c.args, "reverseType")
	if t == "" {
		t = idKindType[argString(c.args, "kind")]
	}
	if t == "" {
		if ts := argStrings(c.args, "types"); len(ts) > 0 {
			t = ts[0]
		}
	}
	return []any{obj{"type": obj{"coding": []any{obj{"system": "http://opencrvs.org/specs/identifier-type", "code": t}}}, "value": v}}
}

// tIDType names the kind of the first usable identifier (national ID
// first), by the same rules as the identifier transform: an identifier
// the sender marks as absent or masked is not an id.
func tIDType(c *tctx, nodes []node) (any, []Issue) {
	for _, k := range idKindOrder {
		if v, _ := c.idValue(nodes, c.ruleFor(map[string]any{"kind": k})); v != "" {
			return idKindType[k], nil
		}
	}
	return nil, nil
}

// ---- lookups, constants, countries

func checkLookup(args map[string]any) error {
	if _, ok := args["map"].(obj); !ok {
		return fmt.Errorf("lookup: needs a map of code -> value")
	}
	return nil
}

// checkLookupReverse is the check of a lookup in a family that writes
// bundles back (reverse: true): where several codes map to one value the
// code written back must be chosen (args.reverse), else rLookup would pick
// the alphabetically first (a SPOUSE informant written as HUSB, husband),
// and every reverse entry must map back to its value.
func checkLookupReverse(args map[string]any) error {
	m, _ := args["map"].(obj)
	rev, _ := args["reverse"].(obj)
	byValue := map[string][]string{}
	for k, v := range m {
		j, _ := json.Marshal(v)
		byValue[string(j)] = append(byValue[string(j)], k)
	}
	var missing []string
	for j, keys := range byValue {
		if len(keys) < 2 {
			continue
		}
		var v any
		_ = json.Unmarshal([]byte(j), &v)
		if _, ok := rev[str(v)]; !ok {
			sort.Strings(keys)
			missing = append(missing, fmt.Sprintf("%s (from %s)", str(v), strings.Join(keys, ", ")))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("lookup: several codes map to %s: reverse must say which code is written back", strings.Join(missing, "; "))
	}
	for v, k := range rev {
		got, ok := m[str(k)]
		if !ok || str(got) != v {
			return fmt.Errorf("lookup: reverse writes %s as %s, which the map does not read back as %s", v, str(k), v)
		}
	}
	return nil
}

func checkConst(args map[string]any) error {
	if _, ok := args["value"]; !ok {
		return fmt.Errorf("const: needs a value")
	}
	return nil
}

func tLookup(c *tctx, nodes []node) (any, []Issue) {
	m, _ := c.args["map"].(obj)
	for _, n := range nodes {
		cs := codes(n.v)
		for _, s := range cs {
			if v, ok := m[s]; ok {
				return v, nil
			}
			for k, v := range m {
				if strings.EqualFold(k, s) {
					return v, nil
				}
			}
		}
		if d, ok := c.args["default"]; ok {
			return d, nil
		}
		return nil, c.warn("code-unknown", &n, "unknown code %q", strings.Join(cs, ", "))
	}
	return nil, nil
}

func rLookup(c *tctx, v any) any {
	key := ""
	if r, ok := c.args["reverse"].(obj); ok {
		key = str(r[str(v)])
	}
	if key == "" {
		m, _ := c.args["map"].(obj)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		want, _ := json.Marshal(v)
		for _, k := range keys {
			got, _ := json.Marshal(m[k])
			if string(got) == string(want) {
				key = k
				break
			}
		}
	}
	if key == "" {
		return nil
	}
	if sys := argString(c.args, "system"); sys != "" {
		return obj{"coding": []any{obj{"system": sys, "code": key}}}
	}
	return key
}

func tConst(c *tctx, nodes []node) (any, []Issue) {
	if len(nodes) == 0 {
		return nil, nil
	}
	return c.args["value"], nil
}

// rConst writes an empty object (which creates the role's resource, for a
// path that is a role) when the value is the constant; else nothing.
func rConst(c *tctx, v any) any {
	want, _ := json.Marshal(c.args["value"])
	got, _ := json.Marshal(v)
	if string(want) != string(got) {
		return nil
	}
	return obj{}
}

// iso2to3 covers the countries seen in test data and neighbours; unknown
// two-letter codes are reported.
var iso2to3 = map[string]string{
	"US": "USA", "MX": "MEX", "CA": "CAN", "GB": "GBR", "FR": "FRA", "DE": "DEU", "IN": "IND", "BD": "BGD",
	"ZM": "ZMB", "ZW": "ZWE", "MW": "MWI", "KE": "KEN", "UG": "UGA", "TZ": "TZA", "NG": "NGA", "GH": "GHA",
	"ET": "ETH", "ZA": "ZAF", "PH": "PHL", "SN": "SEN", "SL": "SLE", "LR": "LBR", "MA": "MAR", "KW": "KWT",
	"CN": "CHN", "JP": "JPN", "BR": "BRA", "AU": "AUS", "NZ": "NZL", "IT": "ITA", "ES": "ESP", "PT": "PRT",
}

var reISO3 = regexp.MustCompile(`^[A-Z]{3}$`)

func countryCode(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if reISO3.MatchString(s) {
		return s, true
	}
	if c, ok := iso2to3[s]; ok {
		return c, true
	}
	switch s {
	case "UNITED STATES", "UNITED STATES OF AMERICA":
		return "USA", true
	case "FARAJALAND":
		return "FAR", true
	}
	return "", false
}

func tCountry(c *tctx, nodes []node) (any, []Issue) {
	for _, n := range nodes {
		for _, s := range codes(n.v) {
			if cc, ok := countryCode(s); ok {
				return cc, nil
			}
		}
		if len(codes(n.v)) > 0 {
			return nil, c.warn("code-unknown", &n, "unknown country %q", strings.Join(codes(n.v), ","))
		}
	}
	return nil, nil
}
