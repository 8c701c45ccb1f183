package httpapi_test

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/httpapi"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

// TestEventConfig: GET /config lists birth and death with their forms.
func TestEventConfig(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := h.ClientToken(hubtest.OfficeIbombo, "type=record.search")
	res := h.Do("GET", "/api/events/config", tok, nil)
	wantOK(t, res)
	var cfg []struct {
		ID           string `json:"id"`
		Label        string `json:"label"`
		DateOfEvent  string `json:"dateOfEvent"`
		PlaceOfEvent string `json:"placeOfEvent"`
		Fields       []struct {
			ID       string   `json:"id"`
			Type     string   `json:"type"`
			Required bool     `json:"required"`
			Options  []string `json:"options"`
		} `json:"fields"`
	}
	res.JSON(&cfg)
	byID := map[string]int{}
	for i, c := range cfg {
		byID[c.ID] = i
	}
	want := map[string]struct {
		dateOfEvent string
		fields      map[string]string // id -> type
	}{
		"birth": {"child.dob", map[string]string{"child.name": "NAME", "child.dob": "DATE", "child.gender": "SELECT",
			"child.birthLocation": "LOCATION", "mother.address": "ADDRESS", "child.weightAtBirth": "NUMBER", "documents.proofOfBirth": "FILE"}},
		"death": {"eventDetails.date", map[string]string{"deceased.name": "NAME", "eventDetails.date": "DATE", "eventDetails.deathLocation": "LOCATION"}},
	}
	if len(cfg) != len(want) {
		t.Errorf("%d event types, want %d", len(cfg), len(want))
	}
	for typ, w := range want {
		i, ok := byID[typ]
		if !ok {
			t.Errorf("event type %s missing", typ)
			continue
		}
		c := cfg[i]
		if c.Label == "" || c.DateOfEvent != w.dateOfEvent || c.PlaceOfEvent == "" {
			t.Errorf("%s: label %q dateOfEvent %q placeOfEvent %q", typ, c.Label, c.DateOfEvent, c.PlaceOfEvent)
		}
		types := map[string]string{}
		for _, f := range c.Fields {
			if _, dup := types[f.ID]; dup {
				t.Errorf("%s: field %s listed twice", typ, f.ID)
			}
			types[f.ID] = f.Type
			if f.Type == "" {
				t.Errorf("%s: field %s has no type", typ, f.ID)
			}
			if f.Type == "SELECT" && len(f.Options) == 0 {
				t.Errorf("%s: select %s has no options", typ, f.ID)
			}
		}
		for id, ft := range w.fields {
			if types[id] != ft {
				t.Errorf("%s: field %s has type %q, want %s", typ, id, types[id], ft)
			}
		}
	}
	wantError(t, h.Do("GET", "/api/events/config", "", nil), http.StatusUnauthorized)
}

// TestLocations: GET /locations is a bare array, filtered by the query.
func TestLocations(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := h.ClientToken(hubtest.OfficeIbombo, "type=record.search")
	all := h.App.Config.Locations
	ofType := func(types ...string) []string {
		var out []string
		for _, l := range all {
			if slices.Contains(types, l.LocationType) {
				out = append(out, l.ID)
			}
		}
		return out
	}
	allIDs := ofType(core.LocationAdminStructure, core.LocationCRVSOffice, core.LocationHealthFacility)
	if len(allIDs) != len(all) || len(ofType(core.LocationHealthFacility)) == 0 || len(ofType(core.LocationCRVSOffice)) == 0 {
		t.Fatalf("unexpected demo location tree")
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{"no filter", "", allIDs},
		{"health facilities", "?locationType=HEALTH_FACILITY", ofType(core.LocationHealthFacility)},
		{"offices and facilities, comma list", "?locationType=CRVS_OFFICE,HEALTH_FACILITY", ofType(core.LocationCRVSOffice, core.LocationHealthFacility)},
		{"offices and facilities, repeated", "?locationType=CRVS_OFFICE&locationType=HEALTH_FACILITY", ofType(core.LocationCRVSOffice, core.LocationHealthFacility)},
		{"admin structure", "?locationType=ADMIN_STRUCTURE", ofType(core.LocationAdminStructure)},
		{"externalId", "?externalId=JWMRGwDBXK2", []string{hubtest.FacilityIbombo}},
		{"externalId unknown", "?externalId=nope", nil},
		{"locationIds", "?locationIds=" + hubtest.OfficeIbombo + "," + hubtest.DistrictIlanga, []string{hubtest.OfficeIbombo, hubtest.DistrictIlanga}},
		{"locationIds unknown", "?locationIds=00000000-0000-4000-8000-000000000000", nil},
		{"type and ids", "?locationType=CRVS_OFFICE&locationIds=" + hubtest.OfficeIbombo + "," + hubtest.FacilityIbombo, []string{hubtest.OfficeIbombo}},
		{"active", "?isActive=true", allIDs},
		{"inactive", "?isActive=false", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := h.Do("GET", "/api/events/locations"+tc.query, tok, nil)
			wantOK(t, res)
			if !bytes.HasPrefix(bytes.TrimSpace(res.Body), []byte("[")) {
				t.Fatalf("not a bare array: %.60s", res.Body)
			}
			var got []struct {
				ID, Name, LocationType, ExternalID string
				ParentID                           string `json:"parentId"`
			}
			res.JSON(&got)
			var ids []string
			for _, l := range got {
				if l.Name == "" || l.LocationType == "" {
					t.Errorf("location %+v lacks name or type", l)
				}
				ids = append(ids, l.ID)
			}
			slices.Sort(ids)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("got %v, want %v", ids, want)
			}
		})
	}
	for _, q := range []struct{ query, want string }{
		{"?locationType=VILLAGE", "VILLAGE"},
		{"?locationType=CRVS_OFFICE,castle", "castle"},
		{"?isActive=maybe", "isActive"},
	} {
		wantError(t, h.Do("GET", "/api/events/locations"+q.query, tok, nil), http.StatusBadRequest, q.want)
	}
	wantError(t, h.Do("GET", "/api/events/locations", "", nil), http.StatusUnauthorized)
}

// TestHealth: the liveness and readiness probes answer without a token,
// and readiness follows the store (without routing there is no bus to
// report). Every 503 carries Retry-After.
func TestHealth(t *testing.T) {
	t.Parallel()
	h := start(t)
	tok := h.ClientToken(hubtest.OfficeIbombo, "type=record.search")
	for p, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ok","checks":{"store":"ok"}}`} {
		res := h.Do("GET", p, "", nil)
		wantOK(t, res)
		if !jsonEqual(t, res.Body, []byte(want)) {
			t.Errorf("%s: %s", p, res.Body)
		}
	}
	// With the store closed the process is alive but not ready.
	if err := h.App.Store.Close(); err != nil {
		t.Fatal(err)
	}
	wantOK(t, h.Do("GET", "/healthz", "", nil))
	res := h.Do("GET", "/readyz", "", nil)
	if res.Status != http.StatusServiceUnavailable || !jsonEqual(t, res.Body, []byte(`{"status":"unavailable","checks":{"store":"failing"}}`)) {
		t.Errorf("/readyz with the store closed: %d %s", res.Status, res.Body)
	}
	wantRetryAfter(t, "/readyz", res)
	// A request that needs the store is 503 with a JSON body, never a
	// dropped connection or a 500 with internals.
	res = h.Do("POST", pathSearch, tok, and(map[string]any{"eventType": "birth"}))
	b := wantError(t, res, http.StatusServiceUnavailable)
	if strings.Contains(strings.ToLower(b.Message), "sql") {
		t.Errorf("the 503 quotes the store's error: %s", res.Body)
	}
	wantRetryAfter(t, "search", res)
}

func wantRetryAfter(t *testing.T, what string, res *hubtest.Response) {
	t.Helper()
	if got, want := res.Header.Get("Retry-After"), strconv.Itoa(httpapi.RetryAfterSeconds); got != want {
		t.Errorf("%s: 503 with Retry-After %q, want %q", what, got, want)
	}
}
