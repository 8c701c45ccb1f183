package core

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// Annotations and content are the free-form parts of an action: OpenCRVS
// puts action metadata outside the form in the annotation (a review
// comment, a signature file) and a few action-specific answers in content
// (a reason, a template id, the duplicates found). Free-form must not mean
// unbounded: each is read strictly, capped in nesting and size, and stored
// re-encoded, so that one request cannot grow a record by megabytes or
// store a value that a reader then fails to decode (1e309).

// annotationRules: comments may span lines; no other control characters.
var annotationRules = textRules{maxNesting: MaxValueNesting, controls: true, multiline: true}

// checkAnnotation checks each annotation value (see canonicalJSON) and
// returns the annotation with every value re-encoded, or an error naming
// `annotation.<key>`.
func checkAnnotation(ann Declaration) (Declaration, error) {
	if len(ann) == 0 {
		return ann, nil
	}
	if len(ann) > MaxDeclarationFields {
		return nil, invalid("INVALID_INPUT", "annotation has too many fields (%d > %d)", len(ann), MaxDeclarationFields)
	}
	out := make(Declaration, len(ann))
	total := 0
	for _, k := range slices.Sorted(maps.Keys(ann)) {
		name := "annotation." + k
		if msg := checkText(k, textRules{controls: true}); msg != "" {
			return nil, fieldInvalid(name, msg)
		}
		raw := ann[k]
		if isNull(raw) {
			out[k] = json.RawMessage("null")
			continue
		}
		v, sub, msg := canonicalJSON(raw, annotationRules)
		if msg != "" {
			return nil, fieldInvalid(joinFieldID(name, sub), msg)
		}
		if len(v) > MaxAnnotationValueBytes {
			return nil, fieldInvalid(name, fmt.Sprintf("Invalid input: larger than %d bytes", MaxAnnotationValueBytes))
		}
		if total += len(k) + len(v); total > MaxAnnotationBytes {
			return nil, fieldInvalid("annotation", fmt.Sprintf("Invalid input: larger than %d bytes in all", MaxAnnotationBytes))
		}
		out[k] = v
	}
	return out, nil
}

// contentStrings are the content keys OpenCRVS defines as strings (REJECT,
// ARCHIVE and REJECT_CORRECTION reason, EDIT comment, PRINT_CERTIFICATE
// templateId, MARK_AS_DUPLICATE duplicateOf); immediateCorrection
// (APPROVE_CORRECTION) is a boolean. Other keys are not refused (clients
// may send keys this list does not know), only bounded.
var contentStrings = map[string]bool{"reason": true, "comment": true, "templateId": true, "duplicateOf": true}

// checkContent bounds an action's content: encoded size at most
// MaxContentBytes, nesting at most MaxValueNesting below each key, strings
// free of control characters other than tab and line breaks, numbers a
// double holds exactly, and the OpenCRVS keys of their types. Errors name
// `content.<key>`.
func checkContent(c map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(c)) {
		name := "content." + k
		if msg := checkText(k, textRules{controls: true}); msg != "" {
			return fieldInvalid(name, msg)
		}
		v := c[k]
		switch {
		case contentStrings[k]:
			if _, ok := v.(string); !ok && v != nil {
				return fieldInvalid(name, "Invalid input: expected a string")
			}
		case k == "immediateCorrection":
			if _, ok := v.(bool); !ok && v != nil {
				return fieldInvalid(name, "Invalid input: expected true or false")
			}
		}
		if tooDeep(v, MaxValueNesting) {
			return fieldInvalid(name, fmt.Sprintf("Invalid input: nested deeper than %d levels", MaxValueNesting))
		}
		if sub, msg := checkContentValue(v); msg != "" {
			return fieldInvalid(joinFieldID(name, sub), msg)
		}
	}
	if len(c) > 0 {
		b, err := json.Marshal(c)
		if err != nil {
			return Wrap(err, KindInvalid, "INVALID_INPUT", "content cannot be encoded as JSON")
		}
		if len(b) > MaxContentBytes {
			return fieldInvalid("content", fmt.Sprintf("Invalid input: larger than %d bytes", MaxContentBytes))
		}
	}
	return nil
}

// checkContentValue walks one decoded content value; it returns the
// dotted path below it and a message, or "" and "".
func checkContentValue(v any) (sub, msg string) {
	switch x := v.(type) {
	case nil, bool:
		return "", ""
	case string:
		return "", checkText(x, annotationRules)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "", "Invalid input: number out of range"
		}
		if math.Abs(x) > maxSafeInteger {
			return "", "Invalid input: number beyond ±2^53 cannot be kept exactly"
		}
		return "", ""
	case int:
		return checkContentValue(float64(x))
	case int64:
		return checkContentValue(float64(x))
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return "", "Invalid input: number out of range"
		}
		return checkContentValue(f)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if msg := checkText(k, textRules{controls: true}); msg != "" {
				return k, msg
			}
			if s, msg := checkContentValue(x[k]); msg != "" {
				return joinFieldID(k, s), msg
			}
		}
		return "", ""
	case []any:
		for i, e := range x {
			if s, msg := checkContentValue(e); msg != "" {
				return joinFieldID(strconv.Itoa(i), s), msg
			}
		}
		return "", ""
	}
	return "", fmt.Sprintf("Invalid input: unsupported value of type %T", v)
}

// tooDeep reports whether v nests arrays and objects more than limit
// levels; it stops looking below limit+1.
func tooDeep(v any, limit int) bool {
	if limit < 0 {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		if limit == 0 {
			return true
		}
		for _, e := range x {
			if tooDeep(e, limit-1) {
				return true
			}
		}
	case []any:
		if limit == 0 {
			return true
		}
		for _, e := range x {
			if tooDeep(e, limit-1) {
				return true
			}
		}
	}
	return false
}

// fieldInvalid is a 400 naming one field.
func fieldInvalid(id, msg string) *Error {
	id = Clip(id)
	return &Error{Kind: KindInvalid, Code: "INVALID_INPUT", Message: id + ": " + msg,
		Fields: []FieldError{{ID: id, Message: msg}}}
}
