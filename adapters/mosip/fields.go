package mosip

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
)

// decl reads typed values from a declaration; every malformed value is a
// permanent error (retrying cannot fix the data).
type decl core.Declaration

// str reads a string field; ok is false when absent, null or "".
func (d decl) str(field string) (string, bool, error) {
	raw, present := d[field]
	if !present || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%w: declaration field %s is not a string", adapters.ErrPermanent, field)
	}
	s = strings.TrimSpace(s)
	return s, s != "", nil
}

// personName is the form's name value.
type personName struct {
	Firstname  string `json:"firstname"`
	Middlename string `json:"middlename"`
	Surname    string `json:"surname"`
}

// name reads a name field as "first middle surname"; ok is false when
// absent or empty.
func (d decl) name(field string) (personName, bool, error) {
	raw, present := d[field]
	if !present || string(raw) == "null" {
		return personName{}, false, nil
	}
	var n personName
	if err := json.Unmarshal(raw, &n); err != nil {
		return personName{}, false, fmt.Errorf("%w: declaration field %s is not a name", adapters.ErrPermanent, field)
	}
	n.Firstname, n.Middlename, n.Surname = strings.TrimSpace(n.Firstname), strings.TrimSpace(n.Middlename), strings.TrimSpace(n.Surname)
	return n, n.full() != "", nil
}

// full is "first middle surname" without empty parts.
func (n personName) full() string {
	return joinNonEmpty(n.Firstname, n.Middlename, n.Surname)
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// date reads a YYYY-MM-DD field and returns it as MOSIP's YYYY/MM/DD.
func (d decl) date(field string) (string, bool, error) {
	s, ok, err := d.str(field)
	if err != nil || !ok {
		return "", ok, err
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return "", false, fmt.Errorf("%w: declaration field %s is not a YYYY-MM-DD date", adapters.ErrPermanent, field)
	}
	return t.Format("2006/01/02"), true, nil
}

// langValue is one entry of a MOSIP language-tagged value.
type langValue struct {
	Language string `json:"language"`
	Value    string `json:"value"`
}

// langArray is the stringified [{language, value}] MOSIP wants for
// language-dependent fields.
func langArray(lang, value string) string {
	b, _ := json.Marshal([]langValue{{Language: lang, Value: value}})
	return string(b)
}

// capitalise makes "male" "Male" (the MOSIP gender codes).
func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}

// missingErr is a permanent error for a required field.
func missingErr(what string) error {
	return fmt.Errorf("%w: %s is required for MOSIP", adapters.ErrPermanent, what)
}

// birthFields maps a birth declaration to createPacket fields (research
// §1, v2 reference, without its hard-coded demo address).
func birthFields(r adapters.Registration, lang string) (map[string]string, error) {
	d := decl(r.Declaration)
	f := map[string]string{}
	if r.RegistrationNumber == "" {
		return nil, missingErr("the registration number")
	}
	f["birthCertificateNumber"] = r.RegistrationNumber
	n, ok, err := d.name("child.name")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, missingErr("child.name")
	}
	f["fullName"] = langArray(lang, n.full())
	dob, ok, err := d.date("child.dob")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, missingErr("child.dob")
	}
	f["dateOfBirth"] = dob
	if err := optionalGender(d, "child.gender", lang, f); err != nil {
		return nil, err
	}
	for _, p := range []struct{ field, key string }{{"mother.name", "motherName"}, {"father.name", "fatherName"}} {
		n, ok, err := d.name(p.field)
		if err != nil {
			return nil, err
		}
		if ok {
			f[p.key] = langArray(lang, n.full())
		}
	}
	return f, nil
}

// deathFields maps a death declaration to createPacket fields (research
// §2, v2 reference); the death certificate number is not a field.
func deathFields(r adapters.Registration, lang string) (map[string]string, error) {
	d := decl(r.Declaration)
	f := map[string]string{"declaredAsDeceased": "Y"}
	n, ok, err := d.name("deceased.name")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, missingErr("deceased.name")
	}
	f["fullName"] = langArray(lang, n.full())
	nid, ok, err := d.str("deceased.nid")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, missingErr("deceased.nid")
	}
	f["UIN"] = nid
	if dob, ok, err := d.date("deceased.dob"); err != nil {
		return nil, err
	} else if ok {
		f["dateOfBirth"] = dob
	}
	if err := optionalGender(d, "deceased.gender", lang, f); err != nil {
		return nil, err
	}
	if date, ok, err := d.date("eventDetails.date"); err != nil {
		return nil, err
	} else if ok {
		f["deceasedDeclarationDate"] = date
	}
	if manner, ok, err := d.str("eventDetails.mannerOfDeath"); err != nil {
		return nil, err
	} else if ok {
		f["typeOfDeath"] = langArray(lang, manner)
	}
	return f, nil
}

func optionalGender(d decl, field, lang string, f map[string]string) error {
	g, ok, err := d.str(field)
	if err != nil {
		return err
	}
	if ok {
		f["gender"] = langArray(lang, capitalise(g))
	}
	return nil
}
