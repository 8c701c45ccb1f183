package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCanonicalJSON: values are read strictly and written again from
// their decoded form; what cannot have one meaning is refused at its path.
func TestCanonicalJSON(t *testing.T) {
	line := textRules{maxNesting: MaxValueNesting, controls: true}
	multi := textRules{maxNesting: MaxValueNesting, controls: true, multiline: true}
	ijson := textRules{}
	ok := []struct {
		name, in string
		rules    textRules
		want     string
	}{
		{"white space dropped, order kept", " { \"surname\" : \"X\" ,\n\"firstname\":\"Eve\" } ", line, `{"surname":"X","firstname":"Eve"}`},
		{"escapes decoded", `"\u0045v\u00e9 \/ \"q\" \\"`, line, `"Evé / \"q\" \\"`},
		{"surrogate pair decoded", `"\ud83d\ude00"`, line, `"😀"`},
		{"raw UTF-8 kept", `"Ṅṡ 名前 اسم"`, line, `"Ṅṡ 名前 اسم"`},
		{"textarea line breaks", `"a\nb\r\n\tc"`, multi, `"a\nb\r\n\tc"`},
		{"numbers as sent", `[0,-1.5,1e3,9007199254740991,-9007199254740991,1e-400,3.14159265358979,0.000012345678901234567]`, line, `[0,-1.5,1e3,9007199254740991,-9007199254740991,1e-400,3.14159265358979,0.000012345678901234567]`},
		{"literals", `[true,false,null,{},[]]`, line, `[true,false,null,{},[]]`},
		{"I-JSON only lets controls through", `"a\u0000b"`, ijson, `"a\u0000b"`},
		{"line separators escaped", "\"a\u2028b\"", line, `"a\u2028b"`},
		{"five levels", `[[[[[1]]]]]`, line, `[[[[[1]]]]]`},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			out, sub, msg := canonicalJSON([]byte(c.in), c.rules)
			if msg != "" {
				t.Fatalf("refused at %q: %s", sub, msg)
			}
			if string(out) != c.want {
				t.Fatalf("got %s, want %s", out, c.want)
			}
			again, _, msg := canonicalJSON(out, c.rules)
			if msg != "" || string(again) != string(out) {
				t.Fatalf("not a fixed point: %s -> %s (%s)", out, again, msg)
			}
		})
	}
	bad := []struct {
		name, in string
		rules    textRules
		sub, msg string
	}{
		{"duplicate key", `{"firstname":"Eve","firstname":"Mallory"}`, ijson, "firstname", "duplicate key"},
		{"duplicate key deep", `{"a":[{"b":1},{"b":1,"b":2}]}`, ijson, "a.1.b", "duplicate key"},
		{"duplicate key by escape", `{"b":1,"\u0062":2}`, ijson, "b", "duplicate key"},
		{"invalid UTF-8", "{\"firstname\":\"Ev\xff\xfee\"}", ijson, "firstname", "UTF-8"},
		{"overlong UTF-8", "\"\xc0\xaf\"", ijson, "", "UTF-8"},
		{"encoded surrogate", "\"\xed\xa0\x80\"", ijson, "", "UTF-8"},
		{"lone high surrogate", `{"x":"Ev\ud800e"}`, ijson, "x", "surrogate"},
		{"lone low surrogate", `"\udc00"`, ijson, "", "surrogate"},
		{"high then non-low", `"\ud800\u0041"`, ijson, "", "surrogate"},
		{"high at end", `"\ud800"`, ijson, "", "surrogate"},
		{"NUL", `{"x":"Ev\u0000e"}`, line, "x", "U+0000"},
		{"escape char", `"\u001b[31m"`, line, "", "U+001B"},
		{"DEL", `"a\u007fb"`, line, "", "U+007F"},
		{"C1", "\"a\u0085b\"", line, "", "U+0085"},
		{"newline in one-line text", `"a\nb"`, line, "", "U+000A"},
		{"tab in one-line text", "\"a\\tb\"", line, "", "U+0009"},
		{"RLO", `"Ev\u202ee"`, multi, "", "U+202E"},
		{"LRE", "\"Ev\u202ae\"", multi, "", "U+202A"},
		{"FSI", `"\u2068x"`, multi, "", "U+2068"},
		{"PDI", `"x\u2069"`, multi, "", "U+2069"},
		{"control in a key", `{"a\u0000":1}`, line, "", "U+0000"},
		{"overflow", `{"n":1e309}`, ijson, "n", "out of range"},
		{"negative overflow", `-1e400`, ijson, "", "out of range"},
		{"big integer", `123456789012345678901234567890`, ijson, "", "2^53"},
		{"integer just past 2^53", `9007199254740994`, ijson, "", "2^53"},
		// 2^53+1 reads as 2^53: two numbers would be one
		{"2^53 itself", `9007199254740992`, ijson, "", "2^53"},
		{"integer that rounds to 2^53", `9007199254740993`, ijson, "", "2^53"},
		{"big integer with a fraction", `12345678901234567891.0`, ijson, "", "2^53"},
		{"big integer with an exponent", `1.2345678901234567891e19`, ijson, "", "2^53"},
		{"2^53 spelt with an exponent", `9.007199254740993e15`, ijson, "", "2^53"},
		{"more digits than a double keeps", `0.12345678901234567891`, ijson, "", "17 significant digits"},
		{"too deep", `{"a":[[[[[1]]]]]}`, line, "", "deeper than 5"},
		{"leading zero", `01`, ijson, "", "Invalid JSON"},
		{"bad escape", `"\x"`, ijson, "", "escape"},
		{"trailing data", `{} {}`, ijson, "", "after the value"},
		{"unterminated", `{"a":"b`, ijson, "a", "unterminated"},
		{"raw newline in a string", "\"a\nb\"", ijson, "", "control character"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			out, sub, msg := canonicalJSON([]byte(c.in), c.rules)
			if msg == "" {
				t.Fatalf("accepted as %s", out)
			}
			if sub != c.sub || !strings.Contains(msg, c.msg) {
				t.Fatalf("refused at %q with %q, want %q with ...%s...", sub, msg, c.sub, c.msg)
			}
		})
	}
}

// TestCheckInputJSON: a request body with a key sent twice, or bytes that
// decoding would replace, is a 400 naming the key (declaration problems by
// field id, as declaration validation names them).
func TestCheckInputJSON(t *testing.T) {
	cases := []struct {
		name, body string
		id, code   string // "" id and code: accepted
	}{
		{"plain", `{"type":"birth","transactionId":"t","declaration":{"child.name":{"firstname":"Eve"}}}`, "", ""},
		{"top-level duplicate", `{"eventType":"death","eventType":"birth"}`, "eventType", "INVALID_INPUT"},
		{"declaration field twice", `{"declaration":{"child.dob":"2024-01-01","child.dob":"2025-01-01"}}`, "child.dob", "INVALID_DECLARATION"},
		{"declaration sub-key twice", `{"declaration":{"child.name":{"firstname":"Eve","firstname":"Mallory"}}}`, "child.name.firstname", "INVALID_DECLARATION"},
		{"declaration invalid UTF-8", "{\"declaration\":{\"child.name\":{\"firstname\":\"\xff\"}}}", "child.name.firstname", "INVALID_DECLARATION"},
		{"content duplicate", `{"content":{"reason":"a","reason":"b"}}`, "content.reason", "INVALID_INPUT"},
		{"content lone surrogate", `{"content":{"reason":"\udfff"}}`, "content.reason", "INVALID_INPUT"},
		{"content overflow", `{"content":{"x":1e309}}`, "content.x", "INVALID_INPUT"},
		{"content big integer", `{"content":{"x":123456789012345678901234567890}}`, "content.x", "INVALID_INPUT"},
		{"annotation deep", `{"annotation":{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, "annotation.x", "INVALID_INPUT"},
		{"controls are the fields' business", `{"content":{"reason":"a\u0000"}}`, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckInputJSON([]byte(c.body))
			if c.id == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("want a *core.Error naming %s, got %v", c.id, err)
			}
			if e.Kind != KindInvalid || e.Code != c.code || len(e.Fields) != 1 || e.Fields[0].ID != c.id || !strings.Contains(e.Message, c.id) {
				t.Fatalf("got %v %s %q %+v, want 400 %s naming %s", e.Kind, e.Code, e.Message, e.Fields, c.code, c.id)
			}
		})
	}
}

// FuzzCanonicalJSON: whatever canonicalJSON accepts comes out valid UTF-8
// JSON that encoding/json reads as the same value, and is a fixed point.
// Run: go test -run '^$' -fuzz FuzzCanonicalJSON -fuzztime 20s ./core/
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{
		`{"firstname":"Eve","surname":"X"}`, `{"a":[1,-2.5e3,true,null,{"b":"\u00e9\ud83d\ude00\n"}]}`,
		`"\ud800"`, "\"\xff\"", `{"a":1,"a":2}`, `1e309`, `[[[[[[1]]]]]]`, `"\u202e"`, ` { } `, `-0.0E+0`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, controls bool) {
		rules := textRules{maxNesting: MaxValueNesting, controls: controls, multiline: true}
		out, _, msg := canonicalJSON(in, rules)
		// the tree reading (DecodeJSONText) is the same reader: it takes
		// what the canonical one takes, and what it takes decodes as
		// encoding/json decodes it
		tree, terr := DecodeJSONText(in, JSONLimits{MaxNesting: MaxValueNesting})
		if msg == "" && !controls && terr != nil {
			t.Fatalf("%q: canonical reading takes it, tree reading refuses: %v", in, terr)
		}
		if terr == nil {
			d := json.NewDecoder(bytes.NewReader(in))
			d.UseNumber()
			var want any
			if err := d.Decode(&want); err != nil || !reflect.DeepEqual(tree, want) {
				t.Fatalf("%q: tree %#v, encoding/json %#v (%v)", in, tree, want, err)
			}
		}
		if msg != "" {
			return
		}
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("%q -> %q: not valid UTF-8 JSON", in, out)
		}
		again, _, msg := canonicalJSON(out, rules)
		if msg != "" || !bytes.Equal(again, out) {
			t.Fatalf("%q -> %q -> %q (%s): not a fixed point", in, out, again, msg)
		}
		decode := func(b []byte) any {
			d := json.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err != nil {
				t.Fatalf("%q: %v", b, err)
			}
			return v
		}
		if a, b := decode(in), decode(out); !reflect.DeepEqual(a, b) {
			t.Fatalf("%q reads as %#v, re-encoded %q as %#v", in, a, out, b)
		}
	})
}

// TestDecodeJSONText: the strict reader's decoded tree is what
// encoding/json (UseNumber) decodes from a good text, numbers keep their
// text whatever their size, and a duplicate key, bytes that are not UTF-8
// or an unpaired surrogate are refused naming where they are.
func TestDecodeJSONText(t *testing.T) {
	good := []string{
		`{"resourceType":"Bundle","entry":[{"resource":{"name":[{"given":["Ad\u00e9","\ud83d\ude00"]}],"n":1.50,"big":123456789012345678901234567890,"x":null,"b":true,"e":{},"l":[]}}]}`,
		` [1, "a", false] `,
		`"s"`,
	}
	for _, in := range good {
		got, err := DecodeJSONText([]byte(in), JSONLimits{MaxNesting: 64})
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		dec := json.NewDecoder(strings.NewReader(in))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", in, got, want)
		}
	}
	bad := []struct {
		in, path, msg string
		nesting       int
		expr          string // Expression("Bundle")
	}{
		{`{"entry":[{"resource":{"name":[{"family":"Banda","family":"Phiri"}]}}]}`, "entry.0.resource.name.0.family", "duplicate key 'family'", 0,
			"Bundle.entry[0].resource.name[0].family"},
		{"{\"entry\":[{\"resource\":{\"name\":[{\"family\":\"Ban\xffda\"}]}}]}", "entry.0.resource.name.0.family", "not valid UTF-8", 0,
			"Bundle.entry[0].resource.name[0].family"},
		{`{"entry":[{"resource":{"name":[{"given":["\ud800"]}]}}]}`, "entry.0.resource.name.0.given.0", "unpaired UTF-16 surrogate", 0,
			"Bundle.entry[0].resource.name[0].given[0]"},
		{`{"a":1} {}`, "", "unexpected data after the value", 0, "Bundle"},
		{`[[[[1]]]]`, "0.0.0", "nested deeper than 3 levels", 3, "Bundle[0][0][0]"},
		// keys spelled like numbers, or not plain names, are never shown as indexes
		{`{"x":{"123":1,"123":2}}`, "x.123", "duplicate key '123'", 0, "Bundle.x.`123`"},
		{`{"x":[{"0":[{"a b":1,"a b":1}]}]}`, "x.0.0.0.a b", "duplicate key", 0, "Bundle.x[0].`0`[0].`a b`"},
		{"{\"a`b\":{\"_c1\":1,\"_c1\":1}}", "a`b._c1", "duplicate key", 0, "Bundle.`a\\`b`._c1"},
	}
	for _, c := range bad {
		nesting := 64
		if c.nesting > 0 {
			nesting = c.nesting
		}
		_, err := DecodeJSONText([]byte(c.in), JSONLimits{MaxNesting: nesting})
		var je *JSONTextError
		if !errors.As(err, &je) {
			t.Fatalf("%q: error %v, want a *JSONTextError", c.in, err)
		}
		if strings.Join(je.Path, ".") != c.path || !strings.Contains(je.Msg, c.msg) {
			t.Errorf("%q: path %q msg %q, want %q, %q", c.in, strings.Join(je.Path, "."), je.Msg, c.path, c.msg)
		}
		if got := je.Expression("Bundle"); got != c.expr {
			t.Errorf("%q: Expression = %s, want %s", c.in, got, c.expr)
		}
	}
}

// TestDecodeJSONTextCount: the elements of the arrays under CountKey are
// counted in all, at any depth, and the reading stops past MaxCount.
func TestDecodeJSONTextCount(t *testing.T) {
	lim := JSONLimits{MaxNesting: 64, CountKey: "entry", MaxCount: 3}
	for in, over := range map[string]bool{
		`{"entry":[1,2,3]}`:                               false,
		`{"entry":[1,2,3,4]}`:                             true,
		`{"entry":[{"entry":[1]},2],"x":{"entry":[3,4]}}`: true,
		`{"entry":[[1,2,3,4,5]],"other":[1,2,3,4,5]}`:     false,
		`{"a":"entry","b":[1,2,3,4,5]}`:                   false,
	} {
		_, err := DecodeJSONText([]byte(in), lim)
		var je *JSONTextError
		if got := errors.As(err, &je) && je.Count; got != over {
			t.Errorf("%s: over the count %v (%v), want %v", in, got, err, over)
		}
	}
	if _, err := DecodeJSONText([]byte(`{"entry":[1,2,3,4]}`), JSONLimits{MaxNesting: 64, CountKey: "entry"}); err != nil {
		t.Errorf("no MaxCount, no limit: %v", err)
	}
}
