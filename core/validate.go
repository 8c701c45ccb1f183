package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

var (
	patternCache sync.Map // string -> *regexp.Regexp
	uuidRe       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	phoneRe      = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{3,24}$`)
	defaultIDRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 /-]{0,63}$`)
	countryRe    = regexp.MustCompile(`^[A-Z]{3}$`)
)

func compilePattern(p string) (*regexp.Regexp, error) {
	if re, ok := patternCache.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile("^(?:" + p + ")$")
	if err != nil {
		return nil, err
	}
	patternCache.Store(p, re)
	return re, nil
}

// IsUUID reports whether s is a UUID in its canonical text form.
func IsUUID(s string) bool { return uuidRe.MatchString(s) }

// MaxDeclarationFields bounds how many fields one declaration may carry.
const MaxDeclarationFields = 500

// ValidateValues checks every value in decl against the event's form: an
// unknown field id or a value of the wrong type is an error naming the
// field. Null values are allowed (they clear a field). Required fields are
// not checked here (see MissingRequired). decl is only read: it may be
// shared with other goroutines. Callers that store the declaration use
// CanonicalValues, which also returns the values to store.
func ValidateValues(cc *CountryConfig, ec *EventConfig, decl Declaration, now time.Time) []FieldError {
	_, errs := CanonicalValues(cc, ec, decl, now)
	return errs
}

// CanonicalValues checks decl as ValidateValues does and returns a new
// declaration holding each value's re-encoded form; decl itself is never
// changed (a caller may share it between goroutines).
//
// Each value is first read strictly (see canonicalJSON): bytes that are not
// UTF-8, unpaired surrogates, duplicate keys, control characters (tab and
// line breaks only in a TEXTAREA), bidirectional overrides, numbers a
// double cannot hold and deep nesting are errors naming the sub-key
// (`child.name.firstname`). Every caller stores the returned, validated
// form and nothing else: the sender's bytes never reach the database, and
// a value has one meaning for validation, storage, search and every
// reader. When there are errors the returned declaration is nil.
func CanonicalValues(cc *CountryConfig, ec *EventConfig, decl Declaration, now time.Time) (Declaration, []FieldError) {
	var errs []FieldError
	if len(decl) > MaxDeclarationFields {
		return nil, []FieldError{{ID: "declaration", Message: fmt.Sprintf("too many fields (%d > %d)", len(decl), MaxDeclarationFields)}}
	}
	var out Declaration
	if decl != nil {
		out = make(Declaration, len(decl))
	}
	for _, id := range slices.Sorted(maps.Keys(decl)) {
		raw := decl[id]
		f := ec.Field(id)
		if f == nil {
			errs = append(errs, FieldError{ID: id, Message: "Unexpected field"})
			continue
		}
		if isNull(raw) {
			out[id] = raw
			continue
		}
		raw, sub, msg := canonicalJSON(raw, textRules{maxNesting: MaxValueNesting, controls: true, multiline: f.Type == FieldTextArea})
		if msg != "" {
			errs = append(errs, FieldError{ID: joinFieldID(id, sub), Message: msg})
			continue
		}
		out[id] = raw
		if isNull(raw) {
			continue
		}
		if msg, sub := checkValue(cc, f, raw, now); msg != "" {
			fid := id
			if sub != "" {
				fid = id + "." + sub
			}
			errs = append(errs, FieldError{ID: fid, Message: msg})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func joinFieldID(id, sub string) string {
	if sub == "" {
		return id
	}
	return id + "." + sub
}

// MissingRequired lists the required fields that the (aggregated)
// declaration lacks, taking requiredIf conditions into account.
func MissingRequired(ec *EventConfig, decl Declaration) []FieldError {
	var errs []FieldError
	for i := range ec.Fields {
		f := &ec.Fields[i]
		if !f.Required {
			continue
		}
		if f.RequiredIf != nil && !conditionHolds(f.RequiredIf, decl) {
			continue
		}
		if isEmptyValue(f, decl[f.ID]) {
			errs = append(errs, FieldError{ID: f.ID, Message: "Required field is missing"})
		}
	}
	return errs
}

func conditionHolds(c *Condition, decl Declaration) bool {
	raw := decl[c.Field]
	if c.NotTrue {
		return !bytes.Equal(bytes.TrimSpace(raw), []byte("true"))
	}
	if isNull(raw) {
		return false
	}
	if len(c.In) > 0 {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return false
		}
		for _, v := range c.In {
			if v == s {
				return true
			}
		}
		return false
	}
	if c.Equals != nil {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return false
		}
		want, _ := json.Marshal(c.Equals)
		got, _ := json.Marshal(v)
		return bytes.Equal(want, got)
	}
	return true
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func isEmptyValue(f *FieldConfig, raw json.RawMessage) bool {
	if isNull(raw) {
		return true
	}
	switch f.Type {
	case FieldName:
		var n struct{ Firstname, Surname string }
		if json.Unmarshal(raw, &n) != nil {
			return true
		}
		return strings.TrimSpace(n.Firstname) == "" && strings.TrimSpace(n.Surname) == ""
	case FieldNumberWithUnit:
		// {"unit":"kg"} without a value is no answer
		m, ok := decodeObject(raw)
		return ok && isNull(m["numericValue"])
	case FieldFile:
		// an empty list of files is no file
		var items []json.RawMessage
		return json.Unmarshal(raw, &items) == nil && len(items) == 0
	case FieldBoolean, FieldNumber, FieldAddress:
		return false
	default:
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return strings.TrimSpace(s) == ""
		}
		return false
	}
}

// checkValue validates one non-null value. It returns a message and, for
// composite values, the name of the offending sub-key.
func checkValue(cc *CountryConfig, f *FieldConfig, raw json.RawMessage, now time.Time) (msg, sub string) {
	switch f.Type {
	case FieldText, FieldTextArea, FieldEmail, FieldPhone, FieldID, FieldSelect, FieldRadio, FieldDate, FieldLocation:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "Invalid input: expected a string", ""
		}
		return checkString(cc, f, s, now), ""
	case FieldNumber:
		n, ok := decodeNumber(raw)
		if !ok {
			return "Invalid input: expected a number", ""
		}
		if f.Min != nil && n < *f.Min {
			return fmt.Sprintf("Invalid input: must be at least %v", *f.Min), ""
		}
		if f.Max != nil && n > *f.Max {
			return fmt.Sprintf("Invalid input: must be at most %v", *f.Max), ""
		}
		return "", ""
	case FieldBoolean:
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "Invalid input: expected true or false", ""
		}
		return "", ""
	case FieldName:
		return checkName(raw)
	case FieldNumberWithUnit:
		return checkNumberWithUnit(f, raw)
	case FieldAddress:
		return checkAddress(cc, raw)
	case FieldFile:
		return checkFile(raw)
	}
	return "Invalid input: unsupported field type", ""
}

func decodeNumber(raw json.RawMessage) (float64, bool) {
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n, true
}

func checkString(cc *CountryConfig, f *FieldConfig, s string, now time.Time) string {
	max := f.MaxLength
	if max == 0 {
		max = 500
		if f.Type == FieldTextArea {
			max = 5000
		}
	}
	if utf8.RuneCountInString(s) > max {
		return fmt.Sprintf("Invalid input: longer than %d characters", max)
	}
	switch f.Type {
	case FieldEmail:
		if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
			return "Invalid input: not an email address"
		}
	case FieldPhone:
		if !phoneRe.MatchString(s) {
			return "Invalid input: not a phone number"
		}
	case FieldID:
		if f.Pattern == "" && !defaultIDRe.MatchString(s) {
			return "Invalid input: not an identifier"
		}
	case FieldSelect, FieldRadio:
		for _, o := range f.Options {
			if o == s {
				return ""
			}
		}
		return fmt.Sprintf("Invalid input: %q is not one of %s", s, strings.Join(f.Options, ", "))
	case FieldDate:
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return "Invalid input: expected a date YYYY-MM-DD"
		}
		if f.NotInFuture && d.Format("2006-01-02") > cc.Today(now) {
			return "Invalid input: date is in the future"
		}
	case FieldLocation:
		l := cc.Location(strings.ToLower(s))
		if l == nil {
			return "Invalid input: unknown location"
		}
		if len(f.LocationTypes) > 0 {
			ok := false
			for _, t := range f.LocationTypes {
				ok = ok || t == l.LocationType
			}
			if !ok {
				return fmt.Sprintf("Invalid input: location must be a %s", strings.Join(f.LocationTypes, " or "))
			}
		}
	}
	if f.Pattern != "" {
		re, _ := compilePattern(f.Pattern)
		if re != nil && !re.MatchString(s) {
			return "Invalid input: does not match the required format"
		}
	}
	return ""
}

// decodeObject decodes a JSON object keeping raw values.
func decodeObject(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, false
	}
	return m, true
}

func optString(m map[string]json.RawMessage, k string) (string, bool) {
	raw, ok := m[k]
	if !ok || isNull(raw) {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func checkName(raw json.RawMessage) (string, string) {
	m, ok := decodeObject(raw)
	if !ok {
		return "Invalid input: expected a name {firstname, surname, middlename?}", ""
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch k {
		case "firstname", "surname", "middlename":
			s, ok := optString(m, k)
			if !ok {
				return "Invalid input: expected a string", k
			}
			if utf8.RuneCountInString(s) > 200 {
				return "Invalid input: longer than 200 characters", k
			}
		default:
			return "Unexpected field", k
		}
	}
	return "", ""
}

func checkNumberWithUnit(f *FieldConfig, raw json.RawMessage) (string, string) {
	m, ok := decodeObject(raw)
	if !ok {
		return "Invalid input: expected {numericValue, unit}", ""
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch k {
		case "numericValue":
			if _, ok := decodeNumber(m[k]); !ok && !isNull(m[k]) {
				return "Invalid input: expected a number", k
			}
		case "unit":
			u, ok := optString(m, k)
			if !ok {
				return "Invalid input: expected a string", k
			}
			if len(f.Units) > 0 && u != "" {
				found := false
				for _, x := range f.Units {
					found = found || x == u
				}
				if !found {
					return fmt.Sprintf("Invalid input: unit %q is not one of %s", u, strings.Join(f.Units, ", ")), k
				}
			}
		default:
			return "Unexpected field", k
		}
	}
	return "", ""
}

// legacyAddressKeys are the v1.9 Farajaland address keys, still accepted.
var legacyAddressKeys = map[string]bool{
	"province": true, "district": true, "urbanOrRural": true, "town": true, "residentialArea": true,
	"street": true, "number": true, "zipCode": true, "village": true, "state": true, "district2": true,
	"cityOrTown": true, "addressLine1": true, "addressLine2": true, "addressLine3": true, "postcodeOrZip": true,
}

func checkAddress(cc *CountryConfig, raw json.RawMessage) (string, string) {
	m, ok := decodeObject(raw)
	if !ok {
		return "Invalid input: expected an address object", ""
	}
	country, ok := optString(m, "country")
	if !ok || !countryRe.MatchString(country) {
		return "Invalid input: expected an ISO 3166-1 alpha-3 country code", "country"
	}
	at, ok := optString(m, "addressType")
	if !ok {
		return "Invalid input: expected a string", "addressType"
	}
	switch at {
	case "DOMESTIC", "INTERNATIONAL":
	case "":
		if country == cc.Settings.CountryCode {
			at = "DOMESTIC"
		} else {
			at = "INTERNATIONAL"
		}
	default:
		return "Invalid input: addressType must be DOMESTIC or INTERNATIONAL", "addressType"
	}
	if at == "DOMESTIC" && cc.Settings.CountryCode != "" && country != cc.Settings.CountryCode {
		return fmt.Sprintf("Invalid input: a DOMESTIC address must be in %s", cc.Settings.CountryCode), "country"
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch {
		case k == "country" || k == "addressType":
		case k == "administrativeArea":
			id, ok := optString(m, k)
			if !ok {
				return "Invalid input: expected a string", k
			}
			if id == "" {
				continue
			}
			if at != "DOMESTIC" {
				return "Invalid input: only a DOMESTIC address has an administrativeArea", k
			}
			id = strings.ToLower(id)
			if l := cc.Location(id); l == nil || l.LocationType != LocationAdminStructure {
				return "Invalid input: unknown administrative area", k
			}
			if !isLeafArea(cc, id) {
				return "Invalid input: administrativeArea must be the lowest-level administrative area, not one that contains others", k
			}
		case k == "streetLevelDetails":
			if isNull(m[k]) {
				continue
			}
			d, ok := decodeObject(m[k])
			if !ok {
				return "Invalid input: expected an object", k
			}
			for _, dk := range slices.Sorted(maps.Keys(d)) {
				if _, ok := optString(d, dk); !ok {
					return "Invalid input: expected a string", k + "." + dk
				}
			}
		case legacyAddressKeys[k]:
			s, ok := optString(m, k)
			if !ok {
				return "Invalid input: expected a string", k
			}
			if (k == "province" || k == "district") && s != "" && at == "DOMESTIC" {
				if l := cc.Location(strings.ToLower(s)); l == nil || l.LocationType != LocationAdminStructure {
					return "Invalid input: unknown administrative area", k
				}
			}
			if k == "district" && s != "" && at == "DOMESTIC" {
				p, _ := optString(m, "province")
				if pl := cc.Location(strings.ToLower(p)); pl != nil && pl.LocationType == LocationAdminStructure && !cc.Within(strings.ToLower(s), pl.ID) {
					return "Invalid input: the district is not in the province", k
				}
			}
		default:
			return "Unexpected field", k
		}
	}
	return "", ""
}

// isLeafArea reports whether the admin area id has no admin area below it
// (offices and facilities below it do not count).
func isLeafArea(cc *CountryConfig, id string) bool {
	for _, c := range cc.Subtree(id)[1:] {
		if l := cc.Location(c); l != nil && l.LocationType == LocationAdminStructure {
			return false
		}
	}
	return true
}

func checkFile(raw json.RawMessage) (string, string) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return "Invalid input: expected a list of files", ""
		}
		for i, it := range items {
			if msg, sub := checkOneFile(it, true); msg != "" {
				s := fmt.Sprintf("%d", i)
				if sub != "" {
					s += "." + sub
				}
				return msg, s
			}
		}
		return "", ""
	}
	return checkOneFile(raw, false)
}

func checkOneFile(raw json.RawMessage, withOption bool) (string, string) {
	m, ok := decodeObject(raw)
	if !ok {
		return "Invalid input: expected a file {path, originalFilename, type}", ""
	}
	for _, k := range []string{"path", "originalFilename", "type"} {
		s, ok := optString(m, k)
		if !ok || s == "" {
			return "Invalid input: expected a non-empty string", k
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch k {
		case "path", "originalFilename", "type":
		case "option":
			if !withOption {
				return "Unexpected field", k
			}
			if _, ok := optString(m, k); !ok {
				return "Invalid input: expected a string", k
			}
		default:
			return "Unexpected field", k
		}
	}
	if p, _ := optString(m, "path"); strings.Contains(p, "..") {
		return "Invalid input: bad path", "path"
	}
	return "", ""
}
