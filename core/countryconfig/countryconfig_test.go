package countryconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/core"
)

func TestDefaults(t *testing.T) {
	cc, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cc.EventIDs(), ","); got != "birth,death" {
		t.Fatalf("events = %s", got)
	}
	count := map[string]int{}
	for _, l := range cc.Locations {
		count[l.LocationType]++
	}
	if count[core.LocationAdminStructure] < 6 || count[core.LocationCRVSOffice] < 2 || count[core.LocationHealthFacility] < 3 {
		t.Fatalf("location counts %v", count)
	}
	// two admin levels: a district's parent is a province with no parent
	ibombo := cc.Location("d71605e6-b20e-4b2e-a6ff-4cd2641fb0cb")
	if ibombo == nil || cc.Location(ibombo.ParentID) == nil || cc.Location(ibombo.ParentID).ParentID != "" {
		t.Fatalf("Ibombo should be a district under a province: %+v", ibombo)
	}
	hosp := cc.Location("a60080a9-9ddb-4d93-bfac-9f40239b3219")
	if hosp.AdministrativeAreaID != ibombo.ID || !cc.Within(hosp.ID, ibombo.ParentID) {
		t.Fatalf("hospital should lie in Ibombo, Central: %+v", hosp)
	}
	for _, id := range []string{"child.name", "child.gender", "child.dob", "child.placeOfBirth", "child.birthLocation",
		"child.weightAtBirth", "child.attendantAtBirth", "child.birthType", "child.nid", "mother.nid", "father.maritalStatus",
		"informant.relation", "informant.phoneNo", "informant.email"} {
		if cc.Event("birth").Field(id) == nil {
			t.Errorf("birth form lacks %s", id)
		}
	}
	for _, id := range []string{"deceased.name", "deceased.nid", "eventDetails.date", "eventDetails.mannerOfDeath",
		"eventDetails.causeOfDeathEstablished", "eventDetails.causeOfDeathSource", "eventDetails.description",
		"eventDetails.placeOfDeath", "eventDetails.deathLocation", "informant.relation", "spouse.name"} {
		if cc.Event("death").Field(id) == nil {
			t.Errorf("death form lacks %s", id)
		}
	}
	if cc.Settings.CountryCode != "FAR" || cc.Settings.RegistrationNumber.Length != 12 {
		t.Fatalf("settings %+v", cc.Settings)
	}
}

func TestOverrideFolder(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "events"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "settings.yaml"), []byte("countryCode: FAR\nregistrationNumber: {prefix: 'FA-', length: 8}\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "events", "marriage.yaml"), []byte(`id: marriage
label: Marriage
fields:
  - {id: bride.name, type: NAME, required: true}
  - {id: groom.name, type: NAME, required: true}
`), 0o644))
	cc, err := Load(dir)
	must(err)
	if got := strings.Join(cc.EventIDs(), ","); got != "birth,death,marriage" {
		t.Fatalf("events = %s", got)
	}
	if cc.Settings.RegistrationNumber.Prefix != "FA-" || cc.Settings.RegistrationNumber.Length != 8 {
		t.Fatalf("settings not overridden: %+v", cc.Settings)
	}
	if cc.Location("d71605e6-b20e-4b2e-a6ff-4cd2641fb0cb") == nil {
		t.Fatal("default locations should still load")
	}
}

func TestBadFiles(t *testing.T) {
	cases := []struct {
		name, file, body, want string
	}{
		{"unknown key", "settings.yaml", "countryCode: FAR\ncolour: blue\n", `unknown field "colour"`},
		{"id mismatch", "events/birth.yaml", "id: baby\nlabel: B\nfields: []\n", `must match the file name`},
		{"bad type", "events/birth.yaml", "id: birth\nlabel: B\nfields: [{id: a, type: BLOB}]\n", `unknown type "BLOB"`},
		{"bad parent", "locations.yaml", "locations: [{id: a, name: A, locationType: CRVS_OFFICE, parentId: zz}]\n", `parent "zz" not found`},
		{"bad yaml", "settings.yaml", "countryCode: [\n", "settings.yaml"},
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
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
