package mappings

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

// TestTransactionIDSameDocumentBareOrWrapped: a document sent bare and the
// same document inside a message are one notification (one event); the id
// is one the engine accepts.
func TestTransactionIDSameDocumentBareOrWrapped(t *testing.T) {
	m := newMapper(t)
	doc, err := os.ReadFile("testdata/bundles/hl7-vrdr-death.json")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := json.Marshal(map[string]any{
		"resourceType": "Bundle", "id": "msg-1", "type": "message",
		"entry": []any{
			map[string]any{"fullUrl": "urn:uuid:6b1d0e7a-0000-4000-8000-000000000001", "resource": map[string]any{
				"resourceType": "MessageHeader", "id": "hdr-77",
				"eventUri": "http://nchs.cdc.gov/vrdr_submission",
				"source":   map[string]any{"endpoint": "http://hospital.example/fhir"},
				"focus":    []any{map[string]any{"reference": "urn:uuid:6b1d0e7a-0000-4000-8000-000000000002"}}}},
			map[string]any{"fullUrl": "urn:uuid:6b1d0e7a-0000-4000-8000-000000000002", "resource": json.RawMessage(doc)},
		}})
	if err != nil {
		t.Fatal(err)
	}
	bare, err := m.Map(doc, testNow)
	if err != nil {
		t.Fatalf("bare: %v", err)
	}
	wrapped, err := m.Map(msg, testNow)
	if err != nil {
		t.Fatalf("wrapped: %v", err)
	}
	if bare.TransactionID != wrapped.TransactionID {
		t.Fatalf("bare %q != wrapped %q", bare.TransactionID, wrapped.TransactionID)
	}
	if !strings.Contains(bare.TransactionID, "2026FA000007") || !core.ValidTransactionID(bare.TransactionID) {
		t.Fatalf("transaction id %q should carry the document identifier and be valid", bare.TransactionID)
	}
	if !wrapped.IsMessage || wrapped.MessageHeaderID != "hdr-77" {
		t.Fatalf("wrapped: message %v header %q", wrapped.IsMessage, wrapped.MessageHeaderID)
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
