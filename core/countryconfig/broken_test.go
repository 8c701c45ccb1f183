package countryconfig

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core/routing"
)

// defaultFile returns one file of the embedded defaults, for tests that
// override it with a small change.
func defaultFile(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(Defaults(), name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replaceOnce replaces old, which must occur in s, by new.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("default file no longer contains %q: update the test", old)
	}
	return strings.Replace(s, old, new, 1)
}

// TestBrokenSettings: an override folder with one broken file is refused
// with an error naming the event or location and the field or value at
// fault, instead of loading a config that silently misbehaves.
func TestBrokenSettings(t *testing.T) {
	birth := defaultFile(t, "events/birth.yaml")
	death := defaultFile(t, "events/death.yaml")
	locs := defaultFile(t, "locations.yaml")
	routes := defaultFile(t, "routing.yaml")
	cases := []struct {
		name, file, body string
		want             []string // substrings of the error
	}{
		{"dateOfEvent unknown", "events/birth.yaml",
			replaceOnce(t, birth, "dateOfEvent: child.dob", "dateOfEvent: child.dateOfBirth"),
			[]string{`event "birth"`, "dateOfEvent", `"child.dateOfBirth"`, "not found"}},
		{"dateOfEvent not a date", "events/death.yaml",
			replaceOnce(t, death, "dateOfEvent: eventDetails.date", "dateOfEvent: eventDetails.description"),
			[]string{`event "death"`, "dateOfEvent", `"eventDetails.description"`, "want DATE"}},
		{"placeOfEvent unknown", "events/birth.yaml",
			replaceOnce(t, birth, "placeOfEvent: child.birthLocation", "placeOfEvent: child.birthPlace"),
			[]string{`event "birth"`, "placeOfEvent", `"child.birthPlace"`, "not found"}},
		{"placeOfEvent a select", "events/birth.yaml",
			replaceOnce(t, birth, "placeOfEvent: child.birthLocation", "placeOfEvent: child.placeOfBirth"),
			[]string{`event "birth"`, "placeOfEvent", `"child.placeOfBirth"`, "has type SELECT", "want LOCATION or ADDRESS"}},
		{"placeOfEvent a date", "events/death.yaml",
			replaceOnce(t, death, "placeOfEvent: eventDetails.deathLocation", "placeOfEvent: eventDetails.date"),
			[]string{`event "death"`, "placeOfEvent", `"eventDetails.date"`, "has type DATE"}},
		{"searchResultFields unknown", "events/birth.yaml",
			replaceOnce(t, birth, "searchResultFields: [child.name,", "searchResultFields: [child.nmae,"),
			[]string{`event "birth"`, "searchResultFields", `"child.nmae"`, "not found"}},
		{"searchResultFields twice", "events/death.yaml",
			replaceOnce(t, death, "searchResultFields: [deceased.name,", "searchResultFields: [deceased.name, deceased.name,"),
			[]string{`event "death"`, "searchResultFields", `"deceased.name"`, "listed twice"}},
		{"shared externalId", "locations.yaml",
			replaceOnce(t, locs, "externalId: dbSCaNeLZWH", "externalId: ntoX1PkiWri"),
			[]string{`"5b607555-e83d-49f5-a681-d9a4776f70c5"`, `"f5530356-cf1a-42d9-9d18-ebe6fd443e77"`, `externalId "ntoX1PkiWri"`}},
		{"empty field id", "events/birth.yaml",
			replaceOnce(t, birth, "{id: child.reason,", "{id: '',"),
			[]string{`event "birth"`, "field #", "id is required"}},
		{"duplicate field id", "events/birth.yaml",
			replaceOnce(t, birth, "{id: child.reason,", "{id: child.dob,"),
			[]string{`event "birth"`, `field "child.dob" is defined twice`}},
		{"duplicate option", "events/birth.yaml",
			replaceOnce(t, birth, "options: [HEALTH_FACILITY, PRIVATE_HOME, OTHER]", "options: [HEALTH_FACILITY, PRIVATE_HOME, HEALTH_FACILITY]"),
			[]string{`event "birth"`, `field "child.placeOfBirth"`, `option "HEALTH_FACILITY" is listed twice`}},
		{"empty option", "events/death.yaml",
			replaceOnce(t, death, "options: [HEALTH_FACILITY, DECEASED_USUAL_RESIDENCE, OTHER]", "options: [HEALTH_FACILITY, '', OTHER]"),
			[]string{`event "death"`, `field "eventDetails.placeOfDeath"`, "empty option"}},
		{"unknown locationType", "events/birth.yaml",
			replaceOnce(t, birth, "locationTypes: [HEALTH_FACILITY]", "locationTypes: [HOSPITAL]"),
			[]string{`event "birth"`, `field "child.birthLocation"`, `unknown location type "HOSPITAL"`}},
		// routing.yaml is read and checked by the same Load (package routing
		// owns its rules), so a broken routing refuses the start as well
		{"routing: unknown field", "routing.yaml",
			replaceOnce(t, routes, "{field: child.dob, maxAgeYears: 10}", "{field: child.dateOfBirth, maxAgeYears: 10}"),
			[]string{"routing.yaml", "routes[0] (birth-to-mosip)", `unknown field "child.dateOfBirth"`}},
		{"routing: not a confirmable action", "routing.yaml",
			replaceOnce(t, routes, "actions: [REGISTER]", "actions: [DECLARE]"),
			[]string{"routing.yaml", "routes[0] (birth-to-mosip)", "DECLARE cannot go to a National ID partner"}},
		{"routing: unknown key", "routing.yaml",
			replaceOnce(t, routes, "syncTimeout: 10s", "syncTimout: 10s"),
			[]string{"routing.yaml", `unknown field "syncTimout"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "events"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			cc, err := Load(dir)
			if err == nil {
				t.Fatalf("loaded a broken %s (events %v)", tc.file, cc.EventIDs())
			}
			if _, _, err2 := LoadWithRouting(dir); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("LoadWithRouting = %v, want Load's error %v", err2, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestPlaceOfEventAddress: an ADDRESS field is a valid place of event (its
// administrative area is the place), as is a LOCATION field.
func TestPlaceOfEventAddress(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "events"), 0o755); err != nil {
		t.Fatal(err)
	}
	death := replaceOnce(t, defaultFile(t, "events/death.yaml"),
		"placeOfEvent: eventDetails.deathLocation", "placeOfEvent: eventDetails.deathLocationOther")
	if err := os.WriteFile(filepath.Join(dir, "events", "death.yaml"), []byte(death), 0o644); err != nil {
		t.Fatal(err)
	}
	cc, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := cc.Event("death").PlaceOfEvent; got != "eventDetails.deathLocationOther" {
		t.Fatalf("placeOfEvent = %q", got)
	}
}

// TestLoadWithRouting: the routing comes from the defaults' routing.yaml,
// checked (defaults filled), and a config folder's routing.yaml replaces it.
func TestLoadWithRouting(t *testing.T) {
	_, def, err := LoadWithRouting("")
	if err != nil {
		t.Fatal(err)
	}
	if len(def.Routes) != 2 || def.Routes[0].Name != "birth-to-mosip" || def.Routes[1].Name != "death-to-mosip" || def.Pending() != 24*time.Hour {
		t.Fatalf("default routing %+v", def)
	}
	dir := t.TempDir()
	own := "routes:\n  - {event: death, actions: [REGISTER], partner: osia}\n"
	if err := os.WriteFile(filepath.Join(dir, "routing.yaml"), []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	_, rc, err := LoadWithRouting(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Routes) != 1 || rc.Routes[0].Name != "death-osia" || rc.Routes[0].Mode != routing.ModeAsync || rc.Routes[0].When != nil {
		t.Fatalf("override routing %+v, want one async route named death-osia", rc.Routes)
	}
}
