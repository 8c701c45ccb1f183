package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Why this file exists: encoding/json (v1) is lenient in ways that let one
// request mean two things. It keeps the last of duplicate keys, turns
// invalid UTF-8 and unpaired surrogate escapes into U+FFFD when it decodes
// a string, and a json.RawMessage keeps the sender's bytes untouched. So a
// declaration value such as {"firstname":"Eve","firstname":"Mallory"} was
// validated as "Mallory", stored with both keys, served with both, and
// indexed as one of them; bytes that are not UTF-8 were stored and served
// as they came. The parser below reads a JSON text strictly (RFC 8259 plus
// the I-JSON rules of RFC 7493: UTF-8 only, no unpaired surrogates, unique
// member names, numbers a double can hold), applies the character rules of
// the place the value goes, and writes the value again from its decoded
// form, so what is stored has one meaning.

// Limits on the free-form parts of an action (annotation and content) and
// on the nesting of any declaration value.
const (
	// MaxValueNesting is how deeply a declaration value, an annotation
	// value or a content value may nest arrays and objects. OpenCRVS's
	// deepest shapes (a list of files, content.duplicates[].id) use two.
	MaxValueNesting = 5
	// MaxAnnotationValueBytes caps one annotation value, encoded: room
	// for a 5000-character review comment in any script.
	MaxAnnotationValueBytes = 16 << 10
	// MaxAnnotationBytes caps all annotation values of one action.
	MaxAnnotationBytes = 64 << 10
	// MaxContentBytes caps an action's content, encoded. OpenCRVS sends
	// a reason, a comment, a template id or a list of duplicates there.
	MaxContentBytes = 16 << 10
	// maxBodyNesting bounds any request body of the events API.
	maxBodyNesting = 32
	// maxSafeInteger is 2^53: from there on, integers do not survive a
	// double.
	maxSafeInteger = 1 << 53
)

// textRules says what a JSON text may hold beyond RFC 8259 and I-JSON.
type textRules struct {
	maxNesting int
	// controls rejects C0 and C1 control characters, DEL, and the
	// bidirectional embedding, override and isolate controls
	// (U+202A-U+202E, U+2066-U+2069), which make a name display as
	// something other than what is stored.
	controls bool
	// multiline lets tab, line feed and carriage return through the
	// control check (a TEXTAREA, a review comment, a reason).
	multiline bool
	// anyNumber lets any number of the JSON grammar through, however
	// large or precise (FHIR decimals are arbitrary-precision; the
	// decoded tree keeps their text).
	anyNumber bool
}

// pathSeg is one step of a path: a member's key, or an array index
// (index >= 0), kept apart so that a key spelled like a number ("123")
// is never shown as an index.
type pathSeg struct {
	key   string
	index int // -1 for a key
}

// text is a segment as a path shows it: the key, or the index's digits.
func (p pathSeg) text() string {
	if p.index >= 0 {
		return strconv.Itoa(p.index)
	}
	return p.key
}

// texts is a path's segments as text.
func texts(path []pathSeg) []string {
	out := make([]string, len(path))
	for i, p := range path {
		out[i] = p.text()
	}
	return out
}

// jsonTextError is a problem found at path (keys and indexes).
type jsonTextError struct {
	path []pathSeg
	msg  string
	// count: the limit on counted arrays was passed (DecodeJSONText)
	count bool
}

// pathString joins a path with dots, cut short when very deep.
func pathString(segs []pathSeg) string { return joinPath(texts(segs)) }

// joinPath joins path texts with dots, cut short when very deep.
func joinPath(path []string) string {
	if len(path) > 8 {
		return strings.Join(path[:8], ".") + "..."
	}
	return strings.Join(path, ".")
}

// jsonText is a strict one-pass JSON reader and writer.
type jsonText struct {
	src   []byte
	pos   int
	out   []byte
	rules textRules
	path  []pathSeg
	err   *jsonTextError
	// nestingPath is how many path segments name a nesting error.
	nestingPath int
	// tree: build the decoded value (DecodeJSONText) instead of writing
	// the canonical text.
	tree bool
	// countKey, maxCount: DecodeJSONText's limit on the elements of the
	// arrays that are the value of a member named countKey; counted is
	// how many were read, nextCounted says the value about to be read is
	// such a member's.
	countKey          string
	maxCount, counted int
	nextCounted       bool
}

// emit writes canonical output, unless the reader builds a tree.
func (j *jsonText) emit(b ...byte) {
	if !j.tree {
		j.out = append(j.out, b...)
	}
}

// canonicalJSON checks raw under the rules and returns it written again
// from its decoded form: no insignificant white space, strings with only
// the escapes JSON needs, member order kept, numbers as sent (their text
// was checked against the JSON grammar and the range of a double). On a
// problem it returns the dotted path below raw ("" for raw itself) and a
// message.
func canonicalJSON(raw []byte, r textRules) (out []byte, sub, msg string) {
	j := &jsonText{src: raw, rules: r, out: make([]byte, 0, len(raw))}
	j.ws()
	j.value(0)
	j.ws()
	if j.err == nil && j.pos < len(j.src) {
		j.fail("Invalid JSON: unexpected data after the value")
	}
	if j.err != nil {
		return nil, pathString(j.err.path), j.err.msg
	}
	return j.out, "", ""
}

func (j *jsonText) fail(format string, args ...any) {
	if j.err == nil {
		j.err = &jsonTextError{path: append([]pathSeg(nil), j.path...), msg: fmt.Sprintf(format, args...)}
	}
}

func (j *jsonText) ws() {
	for j.pos < len(j.src) {
		switch j.src[j.pos] {
		case ' ', '\t', '\n', '\r':
			j.pos++
		default:
			return
		}
	}
}

// value reads one value; in tree mode it returns it decoded
// (map[string]any, []any, string, json.Number, bool or nil).
func (j *jsonText) value(depth int) any {
	if j.err != nil {
		return nil
	}
	if j.pos >= len(j.src) {
		j.fail("Invalid JSON: unexpected end")
		return nil
	}
	counted := j.nextCounted
	j.nextCounted = false
	switch c := j.src[j.pos]; {
	case c == '{':
		return j.object(depth + 1)
	case c == '[':
		return j.array(depth+1, counted)
	case c == '"':
		s, ok := j.str()
		if ok && !j.tree {
			j.out = appendJSONString(j.out, s)
		}
		return s
	case c == '-' || c >= '0' && c <= '9':
		return j.number()
	case bytes.HasPrefix(j.src[j.pos:], []byte("true")):
		j.literal("true")
		return true
	case bytes.HasPrefix(j.src[j.pos:], []byte("false")):
		j.literal("false")
		return false
	case bytes.HasPrefix(j.src[j.pos:], []byte("null")):
		j.literal("null")
		return nil
	default:
		j.fail("Invalid JSON at byte %d", j.pos)
	}
	return nil
}

func (j *jsonText) literal(s string) {
	j.pos += len(s)
	if !j.tree {
		j.out = append(j.out, s...)
	}
}

func (j *jsonText) nest(depth int) bool {
	if j.rules.maxNesting > 0 && depth > j.rules.maxNesting {
		// named by the value that holds it, not by a path of indexes
		if len(j.path) > j.nestingPath {
			j.path = j.path[:j.nestingPath]
		}
		j.fail("Invalid input: nested deeper than %d levels", j.rules.maxNesting)
		return false
	}
	return true
}

func (j *jsonText) object(depth int) any {
	if !j.nest(depth) {
		return nil
	}
	j.pos++ // {
	j.emit('{')
	seen := map[string]bool{}
	var m map[string]any
	if j.tree {
		m = map[string]any{}
	}
	j.ws()
	if j.pos < len(j.src) && j.src[j.pos] == '}' {
		j.pos++
		j.emit('}')
		return m
	}
	for j.err == nil {
		j.ws()
		if j.pos >= len(j.src) || j.src[j.pos] != '"' {
			j.fail("Invalid JSON at byte %d: expected a key", j.pos)
			return nil
		}
		k, ok := j.str()
		if !ok {
			return nil
		}
		j.path = append(j.path, pathSeg{key: k, index: -1})
		if seen[k] {
			j.fail("Invalid input: duplicate key '%s'", k)
			return nil
		}
		seen[k] = true
		if len(seen) > 1 {
			j.emit(',')
		}
		if !j.tree {
			j.out = appendJSONString(j.out, k)
		}
		j.emit(':')
		j.ws()
		if j.pos >= len(j.src) || j.src[j.pos] != ':' {
			j.fail("Invalid JSON at byte %d: expected ':'", j.pos)
			return nil
		}
		j.pos++
		j.ws()
		j.nextCounted = j.countKey != "" && k == j.countKey
		v := j.value(depth)
		if j.err != nil {
			return nil
		}
		if m != nil {
			m[k] = v
		}
		j.path = j.path[:len(j.path)-1]
		j.ws()
		if j.pos < len(j.src) && j.src[j.pos] == ',' {
			j.pos++
			continue
		}
		if j.pos < len(j.src) && j.src[j.pos] == '}' {
			j.pos++
			j.emit('}')
			return m
		}
		j.fail("Invalid JSON at byte %d: expected ',' or '}'", j.pos)
	}
	return nil
}

func (j *jsonText) array(depth int, counted bool) any {
	if !j.nest(depth) {
		return nil
	}
	j.pos++ // [
	j.emit('[')
	var list []any
	if j.tree {
		list = []any{}
	}
	j.ws()
	if j.pos < len(j.src) && j.src[j.pos] == ']' {
		j.pos++
		j.emit(']')
		return list
	}
	for i := 0; j.err == nil; i++ {
		if i > 0 {
			j.emit(',')
		}
		j.path = append(j.path, pathSeg{index: i})
		if counted {
			if j.counted++; j.counted > j.maxCount {
				j.path = j.path[:len(j.path)-1] // named by the array
				j.fail("Invalid input: more than %d elements in all in %q arrays", j.maxCount, j.countKey)
				j.err.count = true
				return nil
			}
		}
		j.ws()
		v := j.value(depth)
		if j.err != nil {
			return nil
		}
		if j.tree {
			list = append(list, v)
		}
		j.path = j.path[:len(j.path)-1]
		j.ws()
		if j.pos < len(j.src) && j.src[j.pos] == ',' {
			j.pos++
			continue
		}
		if j.pos < len(j.src) && j.src[j.pos] == ']' {
			j.pos++
			j.emit(']')
			return list
		}
		j.fail("Invalid JSON at byte %d: expected ',' or ']'", j.pos)
	}
	return nil
}

// str reads a string at j.pos (on its opening quote) and returns it decoded.
func (j *jsonText) str() (string, bool) {
	j.pos++ // "
	var b strings.Builder
	for {
		if j.pos >= len(j.src) {
			j.fail("Invalid JSON: unterminated string")
			return "", false
		}
		c := j.src[j.pos]
		switch {
		case c == '"':
			j.pos++
			return b.String(), true
		case c == '\\':
			r, ok := j.escape()
			if !ok {
				return "", false
			}
			if !j.allowed(r) {
				return "", false
			}
			b.WriteRune(r)
		case c < 0x20:
			j.fail("Invalid JSON: raw control character in a string")
			return "", false
		default:
			r, n := utf8.DecodeRune(j.src[j.pos:])
			if r == utf8.RuneError && n <= 1 {
				j.fail("Invalid input: not valid UTF-8")
				return "", false
			}
			j.pos += n
			if !j.allowed(r) {
				return "", false
			}
			b.WriteRune(r)
		}
	}
}

// escape reads one escape sequence at j.pos (on its backslash). A \u
// escape of a UTF-16 surrogate must be followed by its other half.
func (j *jsonText) escape() (rune, bool) {
	if j.pos+1 >= len(j.src) {
		j.fail("Invalid JSON: unterminated escape")
		return 0, false
	}
	c := j.src[j.pos+1]
	j.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'u':
		r, ok := j.hex4()
		if !ok {
			return 0, false
		}
		if !utf16.IsSurrogate(r) {
			return r, true
		}
		if r < 0xDC00 && j.pos+1 < len(j.src) && j.src[j.pos] == '\\' && j.src[j.pos+1] == 'u' {
			j.pos += 2
			lo, ok := j.hex4()
			if !ok {
				return 0, false
			}
			if d := utf16.DecodeRune(r, lo); d != utf8.RuneError {
				return d, true
			}
		}
		j.fail("Invalid input: unpaired UTF-16 surrogate \\u%04x", r)
		return 0, false
	}
	j.fail("Invalid JSON: bad escape \\%c", c)
	return 0, false
}

func (j *jsonText) hex4() (rune, bool) {
	if j.pos+4 > len(j.src) {
		j.fail("Invalid JSON: short \\u escape")
		return 0, false
	}
	v, err := strconv.ParseUint(string(j.src[j.pos:j.pos+4]), 16, 16)
	if err != nil {
		j.fail("Invalid JSON: bad \\u escape")
		return 0, false
	}
	j.pos += 4
	return rune(v), true
}

// allowed applies the control-character rules to one decoded character.
func (j *jsonText) allowed(r rune) bool {
	if msg := disallowedRune(r, j.rules); msg != "" {
		j.fail("%s", msg)
		return false
	}
	return true
}

// disallowedRune says why r may not appear under the rules, or "".
func disallowedRune(r rune, rules textRules) string {
	if !rules.controls {
		return ""
	}
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		if rules.multiline {
			return ""
		}
		return fmt.Sprintf("Invalid input: control character U+%04X is not allowed here", r)
	case r < 0x20 || r >= 0x7F && r <= 0x9F:
		return fmt.Sprintf("Invalid input: control character U+%04X is not allowed", r)
	case r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069:
		return fmt.Sprintf("Invalid input: bidirectional control U+%04X is not allowed", r)
	}
	return ""
}

// checkText applies the rules to a decoded Go string (content values).
func checkText(s string, rules textRules) string {
	if !utf8.ValidString(s) {
		return "Invalid input: not valid UTF-8"
	}
	for _, r := range s {
		if msg := disallowedRune(r, rules); msg != "" {
			return msg
		}
	}
	return ""
}

// number reads a number, checks it against the JSON grammar, and refuses
// what a double cannot hold: an overflow (1e309), a magnitude of 2^53 or
// more, or more than 17 significant digits, which decoders in Go and
// JavaScript silently round (two different numbers would read as one).
func (j *jsonText) number() any {
	start := j.pos
	if j.src[j.pos] == '-' {
		j.pos++
	}
	digits := func() int {
		n := 0
		for j.pos < len(j.src) && j.src[j.pos] >= '0' && j.src[j.pos] <= '9' {
			j.pos++
			n++
		}
		return n
	}
	intStart := j.pos
	if n := digits(); n == 0 || n > 1 && j.src[intStart] == '0' {
		j.fail("Invalid JSON: bad number at byte %d", start)
		return nil
	}
	if j.pos < len(j.src) && j.src[j.pos] == '.' {
		j.pos++
		if digits() == 0 {
			j.fail("Invalid JSON: bad number at byte %d", start)
			return nil
		}
	}
	if j.pos < len(j.src) && (j.src[j.pos] == 'e' || j.src[j.pos] == 'E') {
		j.pos++
		if j.pos < len(j.src) && (j.src[j.pos] == '+' || j.src[j.pos] == '-') {
			j.pos++
		}
		if digits() == 0 {
			j.fail("Invalid JSON: bad number at byte %d", start)
			return nil
		}
	}
	lit := string(j.src[start:j.pos])
	if !j.rules.anyNumber {
		if msg := numberProblem(lit); msg != "" {
			j.fail("%s", msg)
			return nil
		}
	}
	if !j.tree {
		j.out = append(j.out, lit...)
	}
	return json.Number(lit)
}

func numberProblem(lit string) string {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "Invalid input: number out of range"
	}
	// |f| >= 2^53: 2^53+1 already reads as 2^53, so two different numbers
	// would be stored, indexed and compared as one. Checked on the value,
	// whatever the spelling (9007199254740993, 9.007199254740993e15).
	if math.Abs(f) >= maxSafeInteger {
		return "Invalid input: number beyond ±2^53 cannot be kept exactly"
	}
	if significantDigits(lit) > 17 {
		return "Invalid input: more than 17 significant digits cannot be kept exactly"
	}
	return ""
}

// significantDigits counts the digits of a JSON number's mantissa from its
// first non-zero digit to its last non-zero one (17 is all a double keeps).
func significantDigits(lit string) int {
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		lit = lit[:i]
	}
	first, last := -1, -1
	n := 0
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			if first < 0 {
				first = n
			}
			last = n
		}
		n++
	}
	if first < 0 {
		return 0
	}
	return last - first + 1
}

// appendJSONString writes s as a JSON string: only '"', '\\' and control
// characters are escaped (U+2028 and U+2029 too, for JavaScript).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20 || r == 0x2028 || r == 0x2029:
			b = append(b, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// CheckInputJSON checks the raw body of an events API request
// (CreateInput, ActionInput, CreateAndNotifyInput) against the I-JSON rules
// that encoding/json does not enforce: valid UTF-8, paired surrogates,
// unique keys at every level, numbers a double holds exactly, and a
// bounded nesting. The HTTP layer calls it on the body it decoded, so that
// a key sent twice (`"eventType":"death","eventType":"birth"`) or bytes
// that decoding would silently replace are a 400 naming the key, never a
// guess. Problems inside the declaration are named by field id
// (`child.name.firstname`), as the declaration's own validation names
// them; others by their path in the body (`content.reason`).
func CheckInputJSON(body []byte) error {
	j := &jsonText{src: body, rules: textRules{maxNesting: maxBodyNesting}, nestingPath: 2}
	j.ws()
	j.value(0)
	j.ws()
	if j.err == nil && j.pos < len(j.src) {
		j.fail("Invalid JSON: unexpected data after the value")
	}
	if j.err == nil {
		return nil
	}
	path, lead, code := j.err.path, "Invalid request body: ", "INVALID_INPUT"
	if len(path) > 0 && path[0] == (pathSeg{key: "declaration", index: -1}) {
		path, lead, code = path[1:], "Invalid declaration: ", "INVALID_DECLARATION"
	}
	id := Clip(pathString(path))
	if id == "" {
		return invalid(code, "%s", j.err.msg)
	}
	return &Error{Kind: KindInvalid, Code: code, Message: lead + id + ": " + j.err.msg,
		Fields: []FieldError{{ID: id, Message: j.err.msg}}}
}

// JSONTextError is a problem a strict reading of a JSON text found: where
// (the keys and array indexes from the top value down; empty for the text
// itself) and what.
type JSONTextError struct {
	Path []string
	Msg  string
	// Count: the text has more elements in counted arrays than
	// JSONLimits.MaxCount (Path names the array where the limit was passed).
	Count bool
	segs  []pathSeg // Path, with indexes told apart from keys
}

// Expression writes the place below root as a FHIRPath-like expression:
// root.key[index].key ("Bundle.entry[2].resource.birthDate"). A key
// that is not a plain name (a number, a space, a dot) is written as a
// delimited identifier, root.`123`, never as an index.
func (e *JSONTextError) Expression(root string) string {
	var b strings.Builder
	b.WriteString(root)
	for _, p := range e.segs {
		switch {
		case p.index >= 0:
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
		case plainName(p.key):
			b.WriteString("." + p.key)
		default:
			b.WriteString(".`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(p.key) + "`")
		}
	}
	return b.String()
}

// plainName reports whether a key is a FHIRPath identifier: a letter or
// '_', then letters, digits and '_'.
func plainName(k string) bool {
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return k != ""
}

// JSONLimits bound what DecodeJSONText reads.
type JSONLimits struct {
	MaxNesting int // levels of arrays and objects
	// CountKey and MaxCount, when set: at most MaxCount elements in all
	// in the arrays that are the value of a member named CountKey, at any
	// depth (FHIR: Bundle.entry, nested bundles' entries included). The
	// reading stops at the limit, so a text of millions of tiny elements
	// costs no more than MaxCount of them.
	CountKey string
	MaxCount int
}

func (e *JSONTextError) Error() string {
	if len(e.Path) == 0 {
		return e.Msg
	}
	return joinPath(e.Path) + ": " + e.Msg
}

// DecodeJSONText decodes a JSON text under the rules CheckInputJSON
// applies to events API bodies (valid UTF-8, paired surrogates, unique
// keys at every level, at most maxNesting levels of arrays and objects),
// into map[string]any, []any, string, json.Number (numbers keep their
// text: any number of the JSON grammar is taken), bool and nil, within
// the limits. It is how other wire formats (FHIR) read a body as strictly
// as the native API, in one pass. A problem is a *JSONTextError naming
// where it is.
func DecodeJSONText(raw []byte, lim JSONLimits) (any, error) {
	j := &jsonText{src: raw, rules: textRules{maxNesting: lim.MaxNesting, anyNumber: true}, tree: true, nestingPath: lim.MaxNesting,
		countKey: lim.CountKey, maxCount: lim.MaxCount}
	if lim.MaxCount <= 0 {
		j.countKey = ""
	}
	j.ws()
	v := j.value(0)
	j.ws()
	if j.err == nil && j.pos < len(j.src) {
		j.fail("Invalid JSON: unexpected data after the value")
	}
	if j.err != nil {
		return nil, &JSONTextError{Path: texts(j.err.path), Msg: j.err.msg, Count: j.err.count, segs: j.err.path}
	}
	return v, nil
}
