package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// A transaction id is the caller's key for one request: repeating the
// request returns what the first one did, and nothing is written twice.
// Keys are per caller (another client's "1001" is another request) and
// bound to the request's content: the same key with a different body is
// refused (409 TRANSACTION_ID_REUSED) instead of answering 200 while
// silently dropping the new data.

// reused is the conflict for a transaction id repeated with other content.
// what names the differing parts for the message; diff lists them for a
// caller that answers in its own terms (the FHIR routes): one FieldError
// per differing declaration field (its id), "createdAtLocation" or
// "eventType" (Value: what the first request had).
func reused(transactionID, what string, diff ...FieldError) error {
	e := Errorf(KindConflict, CodeTransactionIDReused,
		"transactionId '%s' was already used for a different request (%s differs); send a new transactionId for a new request", transactionID, what)
	e.Fields = diff
	return e
}

// CodeTransactionIDReused is the code of the conflict for a transaction
// id repeated with other content.
const CodeTransactionIDReused = "TRANSACTION_ID_REUSED"

// maxNamedFields bounds the declaration fields a conflict message names.
const maxNamedFields = 10

// differsFrom names the parts of in that differ from the action an
// earlier request with the same transaction id recorded ("" = the same
// request), and lists them as reused takes them.
func differsFrom(prev *Action, in ActionInput) (string, []FieldError) {
	if ids := declarationDiff(prev.Declaration, in.Declaration); len(ids) > 0 {
		diff := make([]FieldError, len(ids))
		for i, id := range ids {
			diff[i] = FieldError{ID: id, Message: "differs from the request that first used this transactionId"}
		}
		if len(ids) == 1 {
			return "declaration field " + ids[0], diff
		}
		named := ids[:min(len(ids), maxNamedFields)]
		what := "declaration fields " + strings.Join(named, ", ")
		if len(ids) > len(named) {
			what += fmt.Sprintf(" and %d more", len(ids)-len(named))
		}
		return what, diff
	}
	if ids := declarationDiff(prev.Annotation, in.Annotation); len(ids) > 0 {
		return "annotation field " + ids[0], nil
	}
	if !sameValue(prev.Content, in.Content) {
		return "content", nil
	}
	if prev.CreatedAtLocation != in.CreatedAtLocation {
		return "createdAtLocation", []FieldError{locationDiff(prev.CreatedAtLocation)}
	}
	if in.RegistrationNumber != "" && in.RegistrationNumber != prev.RegistrationNumber {
		return "registrationNumber", nil
	}
	if in.AssignedTo != "" && in.AssignedTo != prev.AssignedTo {
		return "assignedTo", nil
	}
	if in.OriginalActionID != prev.OriginalActionID {
		return "originalActionId", nil
	}
	return "", nil
}

// locationDiff is the diff entry of an office other than the first
// request's.
func locationDiff(first string) FieldError {
	return FieldError{ID: "createdAtLocation", Message: "the request that first used this transactionId was at another location", Value: first}
}

// declarationDiff returns the field ids (sorted) whose values differ
// between a and b, a field absent from one side counting as null.
func declarationDiff(a, b Declaration) []string {
	ids := make([]string, 0, len(a)+len(b))
	for k := range a {
		ids = append(ids, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ids = append(ids, k)
		}
	}
	sort.Strings(ids)
	var out []string
	for _, k := range ids {
		if !sameJSON(a[k], b[k]) {
			out = append(out, k)
		}
	}
	return out
}

// sameJSON reports whether two JSON values mean the same (key order,
// spacing and number spelling aside). nil and null are the same.
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if len(bytes.TrimSpace(a)) > 0 && json.Unmarshal(a, &x) != nil {
		return false
	}
	if len(bytes.TrimSpace(b)) > 0 && json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// sameValue is sameJSON for decoded values (an empty map is nil).
func sameValue(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && sameJSON(ja, jb)
}
