package mappings

import (
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// TestUpdateAndVoidMessagesRefused: an NCHS update or void changes a
// record the hub already holds. Mapped as a fresh notification it was a
// 409 (the document identifier reused) or, keyed on the new
// MessageHeader id, a second copy of the birth; until updates are
// supported it is a 422 naming MessageHeader.eventUri.
func TestUpdateAndVoidMessagesRefused(t *testing.T) {
	for _, c := range []struct {
		event string
		coded bool // eventCoding instead of eventUri
		say   string
	}{
		{"http://nchs.cdc.gov/birth_submission_update", false, "update"},
		{"http://nchs.cdc.gov/birth_submission_void", false, "void"},
		{"birth_submission_update", true, "update"},
	} {
		t.Run(c.event, func(t *testing.T) {
			b := loadBundle(t, "hl7-bfdr-birth-message.json")
			hdr := resAt(b, 0)
			if hdr["resourceType"] != "MessageHeader" {
				t.Fatalf("entry 0 is a %v", hdr["resourceType"])
			}
			delete(hdr, "eventUri")
			delete(hdr, "eventCoding")
			expr := "Bundle.entry[0].resource.eventUri"
			if c.coded {
				hdr["eventCoding"] = map[string]any{"system": "http://nchs.cdc.gov/bfdr_submission", "code": c.event}
				expr = "Bundle.entry[0].resource.eventCoding.code"
			} else {
				hdr["eventUri"] = c.event
			}
			res, me := mapEdited(t, b)
			if me == nil || me.Kind != core.KindUnprocessable {
				t.Fatalf("mapped (%+v); want a 422", res)
			}
			is := me.Issues[0]
			if is.Severity != "error" || is.Code != "not-supported" || !slices.Equal(is.Expression, []string{expr}) ||
				!strings.Contains(is.Diagnostics, c.event) || !strings.Contains(is.Diagnostics, "not supported yet") || !strings.Contains(is.Diagnostics, c.say) {
				t.Errorf("issue %+v: want a not-supported error at %s naming %s and saying updates/voids are not supported yet", is, expr, c.event)
			}
		})
	}
	// the submission itself is still a birth
	if _, me := mapEdited(t, loadBundle(t, "hl7-bfdr-birth-message.json")); me != nil {
		t.Fatalf("the submission message: %v", me)
	}
}
