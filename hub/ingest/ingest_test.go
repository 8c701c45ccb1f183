package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
	"github.com/crvshub/crvshub/core/store/sqlite"
	"github.com/crvshub/crvshub/hub/ingest"
	"github.com/crvshub/crvshub/mappings"
)

const ibomboOffice = "58325d6c-dc50-4779-aa42-06daa5712756"

// newService is the ingest service over a real SQLite store.
func newService(t *testing.T) *ingest.Service {
	t.Helper()
	cc, err := countryconfig.Load("")
	if err != nil {
		t.Fatal(err)
	}
	m, err := mappings.New(cc, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &ingest.Service{Mapper: m, Events: &core.Service{Store: st, Config: cc}}
}

func client(t *testing.T, office string) core.Principal {
	t.Helper()
	scopes, err := core.ParseScopes([]string{"type=record.create", "type=record.notify"})
	if err != nil {
		t.Fatal(err)
	}
	return core.Principal{ID: "his-" + uuid.NewString(), Type: core.UserTypeSystem, Scopes: scopes, Office: office}
}

// birth is the README's OpenCRVS v1 birth notification with a fresh
// identifier, edited.
func birth(t *testing.T, edit func(b map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../docs/examples/fhir-birth.json")
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	b["identifier"] = map[string]any{"system": "urn:ietf:rfc:3986", "value": "urn:uuid:" + uuid.NewString()}
	if edit != nil {
		edit(b)
	}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// resourcesOf lists the bundle's resources.
func resourcesOf(b map[string]any) []map[string]any {
	var out []map[string]any
	for _, e := range b["entry"].([]any) {
		out = append(out, e.(map[string]any)["resource"].(map[string]any))
	}
	return out
}

// TestCreatedThenResent: the engine says whether the event is new; the
// same bundle again is the same event, not created.
func TestCreatedThenResent(t *testing.T) {
	s := newService(t)
	p := client(t, "")
	body := birth(t, nil)
	for i, want := range []bool{true, false, false} {
		res, err := s.Ingest(context.Background(), p, ingest.Request{Mode: ingest.Notification, Body: body})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if res.Created != want || res.Event == nil || res.Mapping == nil || res.Mapping.Family != "opencrvs-v1-birth" {
			t.Fatalf("request %d: created %v (want %v), event %v", i, res.Created, want, res.Event)
		}
		if res.Office != ibomboOffice || res.OfficeSource != "the bundle" {
			t.Errorf("office %s from %s", res.Office, res.OfficeSource)
		}
	}
}

// TestOfficeFallback: the bundle's office, else the request's, else the
// client's default office; none is a bad request naming all three.
func TestOfficeFallback(t *testing.T) {
	s := newService(t)
	noOffice := func(b map[string]any) { // no Task, no Encounter location
		var keep []any
		for _, e := range b["entry"].([]any) {
			r := e.(map[string]any)["resource"].(map[string]any)
			if r["resourceType"] == "Task" {
				continue
			}
			delete(r, "location")
			keep = append(keep, e)
		}
		b["entry"] = keep
	}
	res, err := s.Ingest(context.Background(), client(t, ""), ingest.Request{Body: birth(t, noOffice)})
	var me *mappings.Error
	if !errors.As(err, &me) || me.Kind != core.KindInvalid || !strings.Contains(me.Error(), "No office") || res.Event != nil {
		t.Fatalf("no office anywhere: %v %+v", err, res)
	}
	res, err = s.Ingest(context.Background(), client(t, ibomboOffice), ingest.Request{Body: birth(t, noOffice)})
	if err != nil || res.OfficeSource != "the client's default office" || res.Event.Actions[0].CreatedAtLocation != ibomboOffice {
		t.Fatalf("the client's office: %v %+v", err, res)
	}
	res, err = s.Ingest(context.Background(), client(t, ""), ingest.Request{Body: birth(t, noOffice), Office: ibomboOffice})
	if err != nil || res.OfficeSource != "the createdAtLocation query parameter" {
		t.Fatalf("the request's office: %v %+v", err, res)
	}
	_, err = s.Ingest(context.Background(), client(t, ""), ingest.Request{Body: birth(t, noOffice), Office: uuid.NewString()})
	var ce *core.Error
	if !errors.As(err, &ce) || !strings.Contains(ce.Message, "office taken from the createdAtLocation query parameter") {
		t.Fatalf("an unknown office does not say where it came from: %v", err)
	}
}

// TestRouteRules: each mode's rules, before anything is stored; a
// message's header is known to the caller even when it is refused.
func TestRouteRules(t *testing.T) {
	s := newService(t)
	p := client(t, "")
	cases := []struct {
		name string
		mode ingest.Mode
		body []byte
		say  string
	}{
		{"notification: Task not draft", ingest.Notification, birth(t, func(b map[string]any) {
			for _, r := range resourcesOf(b) {
				if r["resourceType"] == "Task" {
					r["status"] = "ready"
				}
			}
		}), `Task.status is "ready"`},
		{"notification: a collection", ingest.Notification, birth(t, func(b map[string]any) { b["type"] = "collection" }), "takes a document Bundle"},
		{"message: a document", ingest.Message, birth(t, nil), "$process-message takes a message Bundle"},
		{"any: a key sent twice", ingest.Any, []byte(`{"resourceType":"Bundle","type":"document","type":"message"}`), "duplicate key 'type'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := s.Ingest(context.Background(), p, ingest.Request{Mode: c.mode, Body: c.body})
			var me *mappings.Error
			if !errors.As(err, &me) || me.Kind != core.KindInvalid || !strings.Contains(me.Error(), c.say) {
				t.Fatalf("error %v, want a bad request saying %q", err, c.say)
			}
			if res == nil || res.Event != nil || res.Header != nil {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestSlot: the slot is taken before the body is decoded and released
// before the event is stored; a refused slot stores nothing.
func TestSlot(t *testing.T) {
	s := newService(t)
	held := 0
	busy := core.Errorf(core.KindTooManyRequests, "TOO_MANY_REQUESTS", "busy")
	refuse := true
	s.Slot = func(context.Context) (func(), error) {
		if refuse {
			return nil, busy
		}
		held++
		return func() { held = 0 }, nil
	}
	body := birth(t, nil)
	if _, err := s.Ingest(context.Background(), client(t, ""), ingest.Request{Body: body}); !errors.Is(err, busy) {
		t.Fatalf("no slot: %v", err)
	}
	refuse = false
	res, err := s.Ingest(context.Background(), client(t, ""), ingest.Request{Body: body})
	if err != nil || !res.Created || held != 0 {
		t.Fatalf("with a slot: %v, created %v, slot still held %v", err, res.Created, held != 0)
	}
}
