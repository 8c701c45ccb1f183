package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestStrictInputRefused: request bodies that would be read as something
// other than what was sent (a key twice, bytes that are not UTF-8, unpaired
// surrogates, 1e309, integers a double rounds), declaration text with
// control characters or bidirectional overrides, and unbounded annotation
// or content are 400 naming the field, and write nothing.
func TestStrictInputRefused(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	s := states{t, h, tok}
	created := s.created()
	notified := s.notified()

	cn := func(name string) string { // create+notify with a raw child.name value
		return fmt.Sprintf(`{"transactionId":%q,"eventType":"birth","createdAtLocation":%q,"declaration":{"child.name":%s,"child.dob":"2024-02-02"}}`,
			newTx(), hubtest.OfficeIbombo, name)
	}
	withAnnotation := func(v string) string {
		return fmt.Sprintf(`{"transactionId":%q,"createdAtLocation":%q,"annotation":{"x":%s}}`, newTx(), hubtest.OfficeIbombo, v)
	}
	withContent := func(c string) string {
		return fmt.Sprintf(`{"transactionId":%q,"createdAtLocation":%q,"content":%s}`, newTx(), hubtest.OfficeIbombo, c)
	}
	notifyPath := eventPath(created.ID) + "/notify"
	assignPath := eventPath(notified.ID) + "/assign"
	archivePath := eventPath(notified.ID) + "/archive"
	// writes counts the audit entries of writes (searches audit too)
	writes := func() int {
		n := 0
		for _, e := range allAudits(t, h, "") {
			if strings.HasPrefix(e.Operation, "event.") || strings.HasPrefix(e.Operation, "action.") {
				n++
			}
		}
		return n
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

	tests := []struct {
		name, path, body string
		field, msg       string
	}{
		// One meaning per body: keys once, UTF-8, numbers a double holds.
		{"create+notify: eventType twice", pathNotify, fmt.Sprintf(`{"transactionId":%q,"eventType":"death","eventType":"birth","createdAtLocation":%q}`, newTx(), hubtest.OfficeIbombo), "eventType", "duplicate key"},
		{"create: transactionId twice", pathEvents, fmt.Sprintf(`{"type":"birth","transactionId":%q,"transactionId":%q,"createdAtLocation":%q}`, newTx(), newTx(), hubtest.OfficeIbombo), "transactionId", "duplicate key"},
		{"create+notify: firstname twice", pathNotify, cn(`{"firstname":"Eve","firstname":"Mallory","surname":"X"}`), "child.name.firstname", "duplicate key"},
		{"create+notify: a field twice", pathNotify, fmt.Sprintf(`{"transactionId":%q,"eventType":"birth","createdAtLocation":%q,"declaration":{"child.dob":"2024-02-02","child.dob":"2024-03-03"}}`, newTx(), hubtest.OfficeIbombo), "child.dob", "duplicate key"},
		{"notify: firstname twice", notifyPath, fmt.Sprintf(`{"transactionId":%q,"createdAtLocation":%q,"declaration":{"child.name":{"firstname":"Eve","firstname":"Mallory"}}}`, newTx(), hubtest.OfficeIbombo), "child.name.firstname", "duplicate key"},
		{"create+notify: invalid UTF-8", pathNotify, cn("{\"firstname\":\"Ev\xff\xfee\",\"surname\":\"X\"}"), "child.name.firstname", "UTF-8"},
		{"create+notify: lone surrogate", pathNotify, cn(`{"firstname":"Ev\ud800e","surname":"X"}`), "child.name.firstname", "surrogate"},
		// Declaration text: no controls, no bidi overrides.
		{"create+notify: NUL", pathNotify, cn(`{"firstname":"Ev\u0000e","surname":"X"}`), "child.name.firstname", "U+0000"},
		{"create+notify: C1 control", pathNotify, cn(`{"firstname":"Ev\u0085e","surname":"X"}`), "child.name.firstname", "U+0085"},
		{"create+notify: bidi override", pathNotify, cn(`{"firstname":"Ev\u202ee","surname":"X"}`), "child.name.firstname", "U+202E"},
		{"create+notify: newline in a name", pathNotify, cn(`{"firstname":"Eve","surname":"X\nY"}`), "child.name.surname", "U+000A"},
		// Annotation values: finite, shallow, bounded.
		{"notify: annotation 1e309", notifyPath, withAnnotation(`1e309`), "annotation.x", "out of range"},
		{"notify: annotation -1e400", notifyPath, withAnnotation(`-1e400`), "annotation.x", "out of range"},
		{"notify: annotation big integer", notifyPath, withAnnotation(`123456789012345678901234567890`), "annotation.x", "2^53"},
		{"notify: annotation 5000 deep", notifyPath, withAnnotation(deep(5000)), "annotation.x", "nested deeper"},
		{"notify: annotation 6 deep", notifyPath, withAnnotation(deep(6)), "annotation.x", "nested deeper than 5"},
		{"notify: annotation invalid UTF-8", notifyPath, withAnnotation("\"\xff\""), "annotation.x", "UTF-8"},
		{"notify: annotation NUL", notifyPath, withAnnotation(`"a\u0000"`), "annotation.x", "U+0000"},
		{"notify: annotation value too big", notifyPath, withAnnotation(`"` + strings.Repeat("y", core.MaxAnnotationValueBytes) + `"`), "annotation.x", "larger than"},
		// Content: bounded, and the OpenCRVS keys of their types.
		{"assign: 900 KiB of content", assignPath, withContent(`{"junk":"` + strings.Repeat("x", 900<<10) + `"}`), "content", "larger than"},
		{"assign: content 5000 deep", assignPath, withContent(`{"x":` + deep(5000) + `}`), "content.x", "nested deeper"},
		{"assign: content 6 deep", assignPath, withContent(`{"x":` + deep(6) + `}`), "content.x", "nested deeper than 5"},
		{"assign: content 1e309", assignPath, withContent(`{"x":1e309}`), "content.x", "out of range"},
		{"assign: content big integer", assignPath, withContent(`{"x":123456789012345678901234567890}`), "content.x", "2^53"},
		{"assign: content key twice", assignPath, withContent(`{"x":1,"x":2}`), "content.x", "duplicate key"},
		{"archive: reason a number", archivePath, withContent(`{"reason":5}`), "content.reason", "expected a string"},
		{"archive: reason twice", archivePath, withContent(`{"reason":"a","reason":"b"}`), "content.reason", "duplicate key"},
		{"archive: reason with NUL", archivePath, withContent(`{"reason":"a\u0000"}`), "content.reason", "U+0000"},
		{"archive: reason lone surrogate", archivePath, withContent(`{"reason":"a\udc00"}`), "content.reason", "surrogate"},
		{"archive: reason bidi override", archivePath, withContent(`{"reason":"a\u202eb"}`), "content.reason", "U+202E"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := total(t, h, tok)
			audited := writes()
			actions := map[string][]string{}
			for _, id := range []string{created.ID, notified.ID} {
				actions[id] = shape(stored(t, h, id))
			}
			res := h.Do("POST", tc.path, tok, tc.body)
			b := wantError(t, res, http.StatusBadRequest, tc.field, tc.msg)
			if len(b.Errors) != 1 || b.Errors[0].ID != tc.field {
				t.Errorf("errors %+v, want one naming %s", b.Errors, tc.field)
			}
			if !utf8.Valid(res.Body) {
				t.Errorf("error body is not UTF-8: %q", res.Body)
			}
			if after := total(t, h, tok); after != before {
				t.Errorf("event count %d -> %d", before, after)
			}
			for id, want := range actions {
				if got := shape(stored(t, h, id)); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("event %s actions %v -> %v", id, want, got)
				}
			}
			if n := writes(); n != audited {
				t.Errorf("event and action audit entries %d -> %d", audited, n)
			}
		})
	}
}

// TestStrictInputStoredReencoded: what is stored is the value as decoded
// and validated, written again (no sender's escapes or white space), so
// the stored record, every answer and the search index agree on it; what
// OpenCRVS clients send in annotation and content is accepted.
func TestStrictInputStoredReencoded(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := adminToken(h)
	body := fmt.Sprintf(`{"transactionId":%q,"eventType":"birth","createdAtLocation":%q,
		"declaration":{"child.name": { "firstname" : "\u0045ve" , "surname":"Sm\u00efth"}, "child.dob":"2024-02-02"},
		"annotation":{"review.comment":"first line\nsecond \u00e9","review.signature":{"path":"s/1.png","originalFilename":"s.png","type":"image/png"}}}`,
		newTx(), hubtest.OfficeIbombo)
	res := h.Do("POST", pathNotify, tok, body)
	wantOK(t, res)
	ev := res.Event()

	var notify *core.Action
	st := stored(t, h, ev.ID)
	for i := range st.Actions {
		if a := &st.Actions[i]; a.Type == core.ActionNotify && len(a.Declaration) > 0 {
			notify = a
		}
	}
	if notify == nil {
		t.Fatalf("no NOTIFY with a declaration: %v", shape(st))
	}
	if got, want := string(notify.Declaration["child.name"]), `{"firstname":"Eve","surname":"Smïth"}`; got != want {
		t.Errorf("stored child.name %s, want %s", got, want)
	}
	if got, want := string(notify.Annotation["review.comment"]), `"first line\nsecond é"`; got != want {
		t.Errorf("stored review.comment %s, want %s", got, want)
	}
	if got, want := string(notify.Annotation["review.signature"]), `{"path":"s/1.png","originalFilename":"s.png","type":"image/png"}`; got != want {
		t.Errorf("stored review.signature %s, want %s", got, want)
	}
	if sr := search(t, h, tok, and(map[string]any{"data.child.name": map[string]any{"type": "fuzzy", "term": "Eve"}})); sr.Total != 1 {
		t.Errorf("search for Eve: %d results, want 1", sr.Total)
	}

	// OpenCRVS content: a multi-line reason, and keys the hub does not know.
	res = h.Act(tok, ev.ID, "archive", newTx(), map[string]any{"content": map[string]any{"reason": "duplicate of\nBXPPA7Y", "isDuplicate": true}})
	wantOK(t, res)
	g := h.Do("GET", eventPath(ev.ID), tok, nil)
	wantOK(t, g)
	if !utf8.Valid(g.Body) || !json.Valid(g.Body) || !bytes.Contains(g.Body, []byte(`"reason":"duplicate of\nBXPPA7Y"`)) {
		t.Errorf("GET answer: %.600s", g.Body)
	}
	var doc core.EventDocument
	if err := json.Unmarshal(g.Body, &doc); err != nil {
		t.Errorf("GET answer does not decode: %v", err)
	}
}
