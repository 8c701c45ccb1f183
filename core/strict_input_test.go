package core_test

import (
	"testing"

	"github.com/crvshub/crvshub/core"
)

// TestValidateValuesRefusesAmbiguousText: declaration strings that are not
// UTF-8, hold unpaired surrogates, control characters or bidirectional
// overrides, and values with a key twice, are errors naming the sub-key.
func TestValidateValuesRefusesAmbiguousText(t *testing.T) {
	cc := farajaland(t)
	birth := birthForm(t)
	death := cc.Event("death")
	cases := []struct {
		name string
		ec   *core.EventConfig
		decl string
		want []wantErr
	}{
		{"name NUL", birth, `{"child.name":{"firstname":"Ev\u0000e","surname":"X"}}`, []wantErr{{"child.name.firstname", "U+0000"}}},
		{"name invalid UTF-8", birth, "{\"child.name\":{\"firstname\":\"Ev\xff\xfee\",\"surname\":\"X\"}}", []wantErr{{"child.name.firstname", "UTF-8"}}},
		{"name lone surrogate", birth, `{"child.name":{"firstname":"Ev\ud800e","surname":"X"}}`, []wantErr{{"child.name.firstname", "surrogate"}}},
		{"name C1 control", birth, `{"child.name":{"firstname":"Ev\u009be","surname":"X"}}`, []wantErr{{"child.name.firstname", "U+009B"}}},
		{"name bidi override", birth, `{"child.name":{"firstname":"Ev\u202ee","surname":"X"}}`, []wantErr{{"child.name.firstname", "U+202E"}}},
		{"name bidi isolate", birth, `{"child.name":{"firstname":"Eve","surname":"\u2066X"}}`, []wantErr{{"child.name.surname", "U+2066"}}},
		{"name newline", birth, `{"child.name":{"firstname":"Eve\nX","surname":"X"}}`, []wantErr{{"child.name.firstname", "U+000A"}}},
		{"name key twice", birth, `{"child.name":{"firstname":"Eve","firstname":"Mallory","surname":"X"}}`, []wantErr{{"child.name.firstname", "duplicate key"}}},
		{"address detail key twice", birth, `{"mother.address":{"country":"FAR","streetLevelDetails":{"town":"A","town":"B"}}}`, []wantErr{{"mother.address.streetLevelDetails.town", "duplicate key"}}},
		{"address detail control", birth, `{"mother.address":{"country":"FAR","streetLevelDetails":{"town":"A\u0007"}}}`, []wantErr{{"mother.address.streetLevelDetails.town", "U+0007"}}},
		{"text NUL", birth, `{"mother.occupation":"a\u0000"}`, []wantErr{{"mother.occupation", "U+0000"}}},
		{"text tab", birth, `{"mother.occupation":"a\tb"}`, []wantErr{{"mother.occupation", "U+0009"}}},
		{"file path escape char", birth, `{"documents.proofOfBirth":{"path":"a/\u001b.png","originalFilename":"1.png","type":"image/png"}}`, []wantErr{{"documents.proofOfBirth.path", "U+001B"}}},
		{"number overflow", birth, `{"child.weightAtBirth":1e309}`, []wantErr{{"child.weightAtBirth", "out of range"}}},
		{"nested too deep", birth, `{"documents.proofOther":[[[[[[{}]]]]]]}`, []wantErr{{"documents.proofOther", "deeper"}}},
		{"textarea line breaks and tabs", death, `{"eventDetails.description":"line 1\r\nline 2\n\tindented"}`, nil},
		{"textarea NUL", death, `{"eventDetails.description":"a\u0000"}`, []wantErr{{"eventDetails.description", "U+0000"}}},
		{"textarea bidi override", death, `{"eventDetails.description":"a\u202db"}`, []wantErr{{"eventDetails.description", "U+202D"}}},
		{"right-to-left text itself", birth, `{"child.name":{"firstname":"مريم","surname":"\u200fX"}}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkFieldErrors(t, core.ValidateValues(cc, c.ec, decl(t, c.decl), testNow), c.want)
		})
	}
}

// TestValidateValuesReencodes: CanonicalValues gives each value in its
// re-encoded form, so the sender's bytes (escapes, white space) are not
// what is stored.
func TestValidateValuesReencodes(t *testing.T) {
	d := decl(t, `{"child.name": { "firstname" : "\u0045ve", "surname":"Sm\u00efth" },
		"child.dob" : "2024-02-02", "child.weightAtBirth": 3.5e0, "mother.occupation": null}`)
	d, errs := core.CanonicalValues(farajaland(t), birthForm(t), d, testNow)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := map[string]string{
		"child.name":          `{"firstname":"Eve","surname":"Smïth"}`,
		"child.dob":           `"2024-02-02"`,
		"child.weightAtBirth": `3.5e0`,
		"mother.occupation":   `null`,
	}
	for k, w := range want {
		if string(d[k]) != w {
			t.Errorf("%s = %s, want %s", k, d[k], w)
		}
	}
}
