package mappings

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// TestTransactionIDSameDocumentBareOrWrapped: a document sent bare and the
// same document inside a message are one notification (one event),
// whatever the message's MessageHeader id or identifier, whether the
// document is named by its Bundle.identifier or only by its Composition's
// identifier; the id is one the engine accepts.
func TestTransactionIDSameDocumentBareOrWrapped(t *testing.T) {
	m := newMapper(t)
	raw, err := os.ReadFile("testdata/bundles/hl7-vrdr-death.json")
	if err != nil {
		t.Fatal(err)
	}
	// onlyComposition: the document named only by its Composition's identifier
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	delete(d, "identifier")
	for _, e := range d["entry"].([]any) {
		if r := e.(map[string]any)["resource"].(map[string]any); r["resourceType"] == "Composition" {
			r["identifier"] = map[string]any{"system": "http://hospital.example/doc", "value": "2026FA000007-comp"}
		}
	}
	onlyComposition, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	message := func(doc []byte, headerID string, ident any) []byte {
		msg := map[string]any{
			"resourceType": "Bundle", "id": "msg-" + headerID, "type": "message",
			"entry": []any{
				map[string]any{"fullUrl": "urn:uuid:6b1d0e7a-0000-4000-8000-000000000001", "resource": map[string]any{
					"resourceType": "MessageHeader", "id": headerID,
					"eventUri": "http://nchs.cdc.gov/vrdr_submission",
					"source":   map[string]any{"endpoint": "http://hospital.example/fhir"},
					"focus":    []any{map[string]any{"reference": "urn:uuid:6b1d0e7a-0000-4000-8000-000000000002"}}}},
				map[string]any{"fullUrl": "urn:uuid:6b1d0e7a-0000-4000-8000-000000000002", "resource": json.RawMessage(doc)},
			}}
		if ident != nil {
			msg["identifier"] = ident
		}
		b, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name, want string
		doc        []byte
	}{
		{"Bundle.identifier", "2026FA000007", raw},
		{"Composition identifier only", "2026FA000007-comp", onlyComposition},
	} {
		t.Run(c.name, func(t *testing.T) {
			bare, err := m.Map(c.doc, testNow)
			if err != nil {
				t.Fatalf("bare: %v", err)
			}
			if !strings.Contains(bare.TransactionID, c.want) || !core.ValidTransactionID(bare.TransactionID) {
				t.Fatalf("transaction id %q should carry the document identifier and be valid", bare.TransactionID)
			}
			for _, hdr := range []string{"hdr-77", "hdr-78"} {
				for _, ident := range []any{nil, map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:msg-" + hdr}} {
					wrapped, err := m.Map(message(c.doc, hdr, ident), testNow)
					if err != nil {
						t.Fatalf("wrapped: %v", err)
					}
					if bare.TransactionID != wrapped.TransactionID {
						t.Fatalf("bare %q != wrapped in message %s (identifier %v) %q", bare.TransactionID, hdr, ident, wrapped.TransactionID)
					}
					if !wrapped.IsMessage || wrapped.MessageHeaderID != hdr {
						t.Fatalf("wrapped: message %v header %q", wrapped.IsMessage, wrapped.MessageHeaderID)
					}
				}
			}
		})
	}
}

// TestTransactionIDTooLongIsDigested: an identifier the engine cannot take
// (too long) becomes a stable digest.
func TestTransactionIDTooLongIsDigested(t *testing.T) {
	m := newMapper(t)
	var b map[string]any
	raw, err := os.ReadFile("testdata/bundles/hl7-vrdr-death.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	b["identifier"] = map[string]any{"system": "http://example.org/" + strings.Repeat("x", 300), "value": "1"}
	body, _ := json.Marshal(b)
	r1, err := m.Map(body, testNow)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := m.Map(body, testNow)
	if !strings.HasPrefix(r1.TransactionID, "fhir:sha256:") || r1.TransactionID != r2.TransactionID || !core.ValidTransactionID(r1.TransactionID) {
		t.Fatalf("got %q / %q", r1.TransactionID, r2.TransactionID)
	}
}
