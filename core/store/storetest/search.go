package storetest

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

// leaf builds a one-condition filter on a column.
func leaf(col core.Column, op core.Op, values ...string) core.Filter {
	return core.Filter{Cond: &core.Cond{Column: col, Op: op, Values: values}}
}

// field builds a one-condition filter on a declaration field.
func field(id string, kind core.ValueKind, op core.Op, values ...string) core.Filter {
	return core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: id, Kind: kind, Op: op, Values: values}}
}

func rng(col core.Column, lo, hi string) core.Filter {
	return core.Filter{Cond: &core.Cond{Column: col, Op: core.OpRange, Lo: lo, Hi: hi}}
}

func fieldRange(id string, kind core.ValueKind, lo, hi string) core.Filter {
	return core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: id, Kind: kind, Op: core.OpRange, Lo: lo, Hi: hi}}
}

func numRange(id string, lo, hi *float64) core.Filter {
	return core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: id, Kind: core.KindNum, Op: core.OpRange, NumLo: lo, NumHi: hi}}
}

func numIn(id string, vs ...float64) core.Filter {
	return core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: id, Kind: core.KindNum, Op: core.OpIn, Nums: vs}}
}

func and(fs ...core.Filter) core.Filter { return core.Filter{Op: "and", Children: fs} }
func or(fs ...core.Filter) core.Filter  { return core.Filter{Op: "or", Children: fs} }

func f64(v float64) *float64 { return &v }

// fixture is one event of the search data set.
type fixture struct {
	id, typ, status, tracking, reg                        string
	created, updated, registered                          string
	cloc, uloc, dloc, rloc                                string
	assigned, createdBy, updatedBy, userType, dateOfEvent string
	place, declaredBy, registeredBy                       string // place "" = cloc
	flags                                                 []string
	fields                                                []core.IndexField
	deleted                                               bool
}

func name(fieldID, full string) []core.IndexField {
	fs := []core.IndexField{{FieldID: fieldID, Kind: core.KindText, Text: full}}
	for _, w := range strings.Fields(full) {
		fs = append(fs, core.IndexField{FieldID: fieldID, Kind: core.KindToken, Text: w})
	}
	return fs
}

func num(fieldID string, v float64) core.IndexField {
	return core.IndexField{FieldID: fieldID, Kind: core.KindNum, Num: v}
}

func date(fieldID, v string) core.IndexField {
	return core.IndexField{FieldID: fieldID, Kind: core.KindDate, Text: v}
}

func join(fs ...[]core.IndexField) []core.IndexField { return slices.Concat(fs...) }

// fixtures: six live events and one deleted event that matches nearly
// every query, so a store that forgets to exclude deleted rows fails most
// cases.
var fixtures = []fixture{
	{id: "e1", typ: "birth", status: "REGISTERED", tracking: "TRK-A1", reg: "REG-001",
		created: "2024-01-01T10:00:00Z", updated: "2024-03-01T00:00:00Z", registered: "2024-01-15T12:00:00Z",
		cloc: "loc-a", uloc: "loc-b", dloc: "loc-a", rloc: "loc-r1",
		assigned: "user-1", createdBy: "user-1", updatedBy: "user-2", userType: "user", dateOfEvent: "2023-12-25",
		place: "fac-1", declaredBy: "user-1", registeredBy: "user-9",
		flags: []string{"printed", "validated"},
		fields: join(name("child.name", "anna maria smith"),
			[]core.IndexField{num("child.weight", 3.2), date("child.dob", "2023-12-25")})},
	{id: "e2", typ: "birth", status: "DECLARED", tracking: "TRK-A2",
		created: "2024-01-02T10:00:00Z", updated: "2024-01-05T00:00:00Z",
		cloc: "loc-a", uloc: "loc-a", dloc: "loc-c",
		createdBy: "user-2", updatedBy: "user-2", userType: "user", dateOfEvent: "2024-01-01",
		place: "fac-2", declaredBy: "user-2",
		flags: []string{"validated"},
		fields: join(name("child.name", "annabel jones"),
			[]core.IndexField{num("child.weight", 2.9), date("child.dob", "2024-01-01")})},
	{id: "e3", typ: "death", status: "NOTIFIED", tracking: "TRK-B3",
		created: "2024-01-02T10:00:00.5Z", updated: "2024-01-02T10:00:00.5Z",
		cloc: "loc-b", uloc: "loc-b",
		assigned: "user-3", createdBy: "sys-1", updatedBy: "sys-1", userType: "system", dateOfEvent: "2023-06-30",
		flags:  []string{"incomplete"},
		fields: name("deceased.name", "bob smith")},
	{id: "e4", typ: "death", status: "REGISTERED", tracking: "TRK-B4", reg: "REG-002",
		created: "2024-02-10T08:30:00Z", updated: "2024-02-20T00:00:00Z", registered: "2024-02-20T00:00:00Z",
		cloc: "loc-c", uloc: "loc-c", dloc: "loc-c", rloc: "loc-r2",
		createdBy: "user-1", updatedBy: "user-4", userType: "user", dateOfEvent: "2024-02-01",
		place: "fac-1", declaredBy: "user-1", registeredBy: "user-1",
		flags:  []string{"printed"},
		fields: name("deceased.name", "o'brien %x_y")},
	{id: "e5", typ: "birth", status: "CREATED", tracking: "TRK-C5",
		created: "2024-03-01T00:00:00Z", updated: "2024-03-01T00:00:00.000000001Z",
		cloc: "loc-d", uloc: "loc-d",
		assigned: "user-5", createdBy: "user-5", updatedBy: "user-5", userType: "user", dateOfEvent: "2024-02-29",
		fields: join(name("child.name", "jönsson åsa"),
			[]core.IndexField{num("child.weight", 4), date("child.dob", "2024-02-29")})},
	{id: "e6", typ: "marriage", status: "ARCHIVED", tracking: "TRK-C6",
		created: "2024-04-01T00:00:00Z", updated: "2024-04-02T00:00:00Z",
		cloc: "loc-e", uloc: "loc-e", dloc: "loc-e",
		createdBy: "user-6", updatedBy: "user-6", userType: "user", dateOfEvent: "2024-03-15",
		flags: []string{"printed", "validated", "incomplete"}},
	{id: "e7", typ: "birth", status: "REGISTERED", tracking: "TRK-D7", reg: "REG-003", deleted: true,
		created: "2024-01-01T11:00:00Z", updated: "2024-01-01T11:00:00Z", registered: "2024-01-10T00:00:00Z",
		cloc: "loc-a", uloc: "loc-b", dloc: "loc-a", rloc: "loc-r1",
		assigned: "user-1", createdBy: "user-1", updatedBy: "user-1", userType: "user", dateOfEvent: "2023-12-25",
		place: "fac-1", declaredBy: "user-1", registeredBy: "user-1",
		flags: []string{"printed", "validated", "incomplete"},
		fields: join(name("child.name", "anna maria smith"), name("deceased.name", "bob smith"),
			[]core.IndexField{num("child.weight", 3.2), date("child.dob", "2023-12-25")})},
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fixtureDoc(f fixture) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"id": f.id, "trackingId": f.tracking, "type": f.typ, "status": f.status})
	return b
}

// loadFixtures stores the search data set.
func loadFixtures(t *testing.T, s core.Store) {
	t.Helper()
	write(t, s, func(tx core.Tx) error {
		for _, f := range fixtures {
			created := mustTime(t, f.created)
			ev := &core.EventDocument{ID: f.id, Type: f.typ, TrackingID: f.tracking, CreatedAt: created,
				UpdatedAt: mustTime(t, f.updated)}
			if err := tx.InsertEvent(ev); err != nil {
				return err
			}
			row := &core.IndexRow{
				EventID: f.id, Type: f.typ, Status: f.status, TrackingID: f.tracking,
				RegistrationNumber: f.reg, Flags: f.flags, CreatedAt: created, UpdatedAt: ev.UpdatedAt,
				CreatedAtLocation: f.cloc, UpdatedAtLocation: f.uloc, DeclaredAtLocation: f.dloc,
				RegisteredAtLocation: f.rloc, AssignedTo: f.assigned, CreatedBy: f.createdBy,
				UpdatedBy: f.updatedBy, CreatedByUserType: f.userType, DateOfEvent: f.dateOfEvent,
				Deleted: f.deleted, Fields: f.fields, Doc: fixtureDoc(f),
				PlaceOfEvent: f.place, DeclaredBy: f.declaredBy, RegisteredBy: f.registeredBy,
			}
			if row.PlaceOfEvent == "" {
				row.PlaceOfEvent = f.cloc
			}
			if f.registered != "" {
				r := mustTime(t, f.registered).In(zone) // any zone: stored as an instant
				row.RegisteredAt = &r
			}
			if err := tx.PutIndex(row); err != nil {
				return err
			}
		}
		return nil
	})
}

func testSearch(t *testing.T, fresh func(*testing.T) core.Store) {
	s := fresh(t)
	loadFixtures(t, s)

	manyLocations := []string{}
	for i := range 100 {
		manyLocations = append(manyLocations, fmt.Sprintf("loc-x%d", i))
	}
	manyLocations = append(manyLocations, "loc-d")

	all := []string{"e1", "e2", "e3", "e4", "e5", "e6"}
	t.Run("Filter", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			f    core.Filter
			want []string
		}{
			{"ZeroFilter", core.Filter{}, all},
			{"EmptyAnd", and(), all},
			{"EmptyOr", or(), nil},
			{"AndWithEmptyOr", and(leaf(core.ColType, core.OpIn, "birth"), or()), nil},

			{"ID/In", leaf(core.ColID, core.OpIn, "e1", "e3", "e7"), []string{"e1", "e3"}},
			{"ID/NotIn", leaf(core.ColID, core.OpNotIn, "e1"), []string{"e2", "e3", "e4", "e5", "e6"}},
			{"ID/InEmpty", leaf(core.ColID, core.OpIn), nil},
			{"TrackingID/In", leaf(core.ColTrackingID, core.OpIn, "TRK-A2"), []string{"e2"}},
			{"TrackingID/Prefix", leaf(core.ColTrackingID, core.OpPrefix, "TRK-B"), []string{"e3", "e4"}},
			{"TrackingID/Injection", leaf(core.ColTrackingID, core.OpIn, "' OR 1=1 --"), nil},
			{"TrackingID/Deleted", leaf(core.ColTrackingID, core.OpIn, "TRK-D7"), nil},
			{"Type/In", leaf(core.ColType, core.OpIn, "death"), []string{"e3", "e4"}},
			{"Type/AllOfOne", leaf(core.ColType, core.OpAllOf, "birth"), []string{"e1", "e2", "e5"}},
			{"Type/AllOfTwo", leaf(core.ColType, core.OpAllOf, "birth", "death"), nil},
			{"Status/In", leaf(core.ColStatus, core.OpIn, "REGISTERED"), []string{"e1", "e4"}},
			{"Status/NotIn", leaf(core.ColStatus, core.OpNotIn, "REGISTERED", "CREATED"), []string{"e2", "e3", "e6"}},

			{"CreatedAt/Range", rng(core.ColCreatedAt, "2024-01-02T10:00:00.4Z", "2024-02-10T08:30:00Z"), []string{"e3", "e4"}},
			{"CreatedAt/RangeFraction", rng(core.ColCreatedAt, "2024-01-02T10:00:00Z", "2024-01-02T10:00:00.49Z"), []string{"e2"}},
			{"CreatedAt/HiDate", rng(core.ColCreatedAt, "", "2024-01-02"), []string{"e1", "e2", "e3"}},
			{"CreatedAt/LoOffset", rng(core.ColCreatedAt, "2024-03-01T01:00:00+01:00", ""), []string{"e5", "e6"}},
			{"CreatedAt/In", leaf(core.ColCreatedAt, core.OpIn, "2024-01-01T13:00:00+03:00", "2024-04-01T00:00:00.000Z"), []string{"e1", "e6"}},
			{"UpdatedAt/Point", rng(core.ColUpdatedAt, "2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z"), []string{"e1"}},
			{"UpdatedAt/Nanosecond", rng(core.ColUpdatedAt, "2024-03-01T00:00:00.000000001Z", ""), []string{"e5", "e6"}},
			{"RegistrationNumber/In", leaf(core.ColRegistrationNumber, core.OpIn, "REG-002"), []string{"e4"}},
			{"RegistrationNumber/NotIn", leaf(core.ColRegistrationNumber, core.OpNotIn, "REG-001"), []string{"e2", "e3", "e4", "e5", "e6"}},
			{"RegistrationNumber/Deleted", leaf(core.ColRegistrationNumber, core.OpIn, "REG-003"), nil},
			{"RegisteredAt/Lo", rng(core.ColRegisteredAt, "2024-02-01", ""), []string{"e4"}},
			{"RegisteredAt/Open", rng(core.ColRegisteredAt, "", ""), []string{"e1", "e4"}},
			{"CreatedAtLocation/In", leaf(core.ColCreatedAtLocation, core.OpIn, "loc-a", "loc-c"), []string{"e1", "e2", "e4"}},
			{"CreatedAtLocation/LongList", leaf(core.ColCreatedAtLocation, core.OpIn, manyLocations...), []string{"e5"}},
			{"UpdatedAtLocation/In", leaf(core.ColUpdatedAtLocation, core.OpIn, "loc-b"), []string{"e1", "e3"}},
			{"DeclaredAtLocation/In", leaf(core.ColDeclaredAtLocation, core.OpIn, "loc-c"), []string{"e2", "e4"}},
			{"RegisteredAtLocation/In", leaf(core.ColRegisteredAtLocation, core.OpIn, "loc-r2"), []string{"e4"}},
			{"AssignedTo/In", leaf(core.ColAssignedTo, core.OpIn, "user-1"), []string{"e1"}},
			{"AssignedTo/Unassigned", leaf(core.ColAssignedTo, core.OpIn, ""), []string{"e2", "e4", "e6"}},
			{"CreatedBy/In", leaf(core.ColCreatedBy, core.OpIn, "user-1"), []string{"e1", "e4"}},
			{"UpdatedBy/In", leaf(core.ColUpdatedBy, core.OpIn, "sys-1"), []string{"e3"}},
			{"CreatedByUserType/In", leaf(core.ColCreatedByUserType, core.OpIn, "system"), []string{"e3"}},
			{"DateOfEvent/Range", rng(core.ColDateOfEvent, "2024-01-01", "2024-02-01"), []string{"e2", "e4"}},
			{"DateOfEvent/Hi", rng(core.ColDateOfEvent, "", "2023-12-31"), []string{"e1", "e3"}},

			{"PlaceOfEvent/In", leaf(core.ColPlaceOfEvent, core.OpIn, "fac-1", "loc-b"), []string{"e1", "e3", "e4"}},
			{"PlaceOfEvent/LongList", leaf(core.ColPlaceOfEvent, core.OpIn, append(manyLocations, "fac-2")...), []string{"e2", "e5"}},
			{"DeclaredBy/In", leaf(core.ColDeclaredBy, core.OpIn, "user-1"), []string{"e1", "e4"}},
			{"DeclaredBy/NotDeclared", leaf(core.ColDeclaredBy, core.OpIn, ""), []string{"e3", "e5", "e6"}},
			{"RegisteredBy/In", leaf(core.ColRegisteredBy, core.OpIn, "user-1"), []string{"e4"}},

			{"Flag/AnyOf", leaf(core.ColFlag, core.OpIn, "printed", "incomplete"), []string{"e1", "e3", "e4", "e6"}},
			{"Flag/AllOf", leaf(core.ColFlag, core.OpAllOf, "printed", "validated"), []string{"e1", "e6"}},
			{"Flag/AllOfThree", leaf(core.ColFlag, core.OpAllOf, "printed", "validated", "incomplete"), []string{"e6"}},
			{"Flag/AllOfRepeated", leaf(core.ColFlag, core.OpAllOf, "printed", "printed"), []string{"e1", "e4", "e6"}},
			{"Flag/NoneOf", leaf(core.ColFlag, core.OpNotIn, "printed"), []string{"e2", "e3", "e5"}},
			{"Flag/NoneOfTwo", leaf(core.ColFlag, core.OpNotIn, "printed", "incomplete"), []string{"e2", "e5"}},
			{"Flag/AnyOfEmpty", leaf(core.ColFlag, core.OpIn), nil},
			{"Flag/AllOfEmpty", leaf(core.ColFlag, core.OpAllOf), all},

			{"Field/Text", field("child.name", core.KindText, core.OpIn, "annabel jones"), []string{"e2"}},
			{"Field/TextIsWhole", field("child.name", core.KindText, core.OpIn, "anna"), nil},
			{"Field/TextNotIn", field("child.name", core.KindText, core.OpNotIn, "anna maria smith"), []string{"e2", "e3", "e4", "e5", "e6"}},
			{"Field/TokenIn", field("child.name", core.KindToken, core.OpIn, "smith"), []string{"e1"}},
			{"Field/OtherField", field("deceased.name", core.KindToken, core.OpIn, "smith"), []string{"e3"}},
			{"Field/TokenAllOf", field("child.name", core.KindToken, core.OpAllOf, "anna", "smith"), []string{"e1"}},
			{"Field/TokenAllOfNone", field("child.name", core.KindToken, core.OpAllOf, "anna", "jones"), nil},
			{"Field/Prefix", field("child.name", core.KindToken, core.OpPrefix, "ann"), []string{"e1", "e2"}},
			{"Field/PrefixWhole", field("child.name", core.KindToken, core.OpPrefix, "annabel"), []string{"e2"}},
			{"Field/PrefixNotText", field("child.name", core.KindToken, core.OpPrefix, "anna m"), nil},
			{"Field/PrefixPercent", field("deceased.name", core.KindToken, core.OpPrefix, "%"), []string{"e4"}},
			{"Field/PrefixUnderscore", field("deceased.name", core.KindToken, core.OpPrefix, "_"), nil},
			{"Field/PrefixQuote", field("deceased.name", core.KindToken, core.OpPrefix, "o'b"), []string{"e4"}},
			{"Field/PrefixUnicode", field("child.name", core.KindToken, core.OpPrefix, "jö"), []string{"e5"}},
			{"Field/PrefixASCII", field("child.name", core.KindToken, core.OpPrefix, "jo"), []string{"e2"}},
			{"Field/PrefixShort", field("child.name", core.KindToken, core.OpPrefix, "j"), []string{"e2", "e5"}},
			{"Field/NumRange", numRange("child.weight", f64(3), f64(4)), []string{"e1", "e5"}},
			{"Field/NumLo", numRange("child.weight", f64(3), nil), []string{"e1", "e5"}},
			{"Field/NumHi", numRange("child.weight", nil, f64(3)), []string{"e2"}},
			{"Field/NumPoint", numRange("child.weight", f64(3.2), f64(3.2)), []string{"e1"}},
			{"Field/NumIn", numIn("child.weight", 4, 2.9), []string{"e2", "e5"}},
			{"Field/DateIn", field("child.dob", core.KindDate, core.OpIn, "2024-02-29"), []string{"e5"}},
			{"Field/DateLo", fieldRange("child.dob", core.KindDate, "2024-01-01", ""), []string{"e2", "e5"}},
			{"Field/DateHi", fieldRange("child.dob", core.KindDate, "", "2024-02-28"), []string{"e1", "e2"}},
			// Values are a text kind's, Nums a number's: the other list is ignored.
			{"Field/NumInIgnoresValues", and(field("child.name", core.KindToken, core.OpIn, "smith"),
				field("child.weight", core.KindNum, core.OpIn, "3.2")), nil},
			{"Field/TextInIgnoresNums", or(field("child.name", core.KindToken, core.OpIn, "smith"),
				core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "child.name", Kind: core.KindToken, Op: core.OpIn, Nums: []float64{3.2}}}), []string{"e1"}},
			{"Field/KindMatters", field("child.dob", core.KindText, core.OpIn, "2024-02-29"), nil},

			{"Nested/OrOfAnds", or(
				and(leaf(core.ColType, core.OpIn, "birth"), leaf(core.ColStatus, core.OpIn, "REGISTERED")),
				and(leaf(core.ColType, core.OpIn, "death"), leaf(core.ColFlag, core.OpIn, "incomplete")),
			), []string{"e1", "e3"}},
			{"Nested/AndOfOrs", and(
				or(leaf(core.ColCreatedAtLocation, core.OpIn, "loc-a"), leaf(core.ColCreatedAtLocation, core.OpIn, "loc-b")),
				or(leaf(core.ColStatus, core.OpIn, "DECLARED"), leaf(core.ColFlag, core.OpIn, "printed")),
			), []string{"e1", "e2"}},
			{"Nested/Deep", or(and(or(and(leaf(core.ColID, core.OpIn, "e1")))), leaf(core.ColID, core.OpIn, "e6")), []string{"e1", "e6"}},
			{"Nested/FieldAndFlag", and(
				field("child.name", core.KindToken, core.OpPrefix, "ann"),
				leaf(core.ColFlag, core.OpNotIn, "printed"),
			), []string{"e2"}},
			{"Nested/OrPrecedence", and(
				leaf(core.ColType, core.OpIn, "death"),
				or(leaf(core.ColStatus, core.OpIn, "NOTIFIED"), leaf(core.ColStatus, core.OpIn, "CREATED")),
			), []string{"e3"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := search(t, s, core.SearchFilter{Where: tc.f, Limit: 100})
				got := ids(t, p)
				slices.Sort(got)
				if len(got) == 0 {
					got = nil
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("ids = %v, want %v", got, tc.want)
				}
				if p.Total != len(tc.want) {
					t.Errorf("total = %d, want %d", p.Total, len(tc.want))
				}
			})
		}
	})

	t.Run("Documents", func(t *testing.T) {
		p := search(t, s, core.SearchFilter{Where: leaf(core.ColID, core.OpIn, "e4"), Limit: 10})
		if len(p.Results) != 1 || !jsonEqual(p.Results[0], fixtureDoc(fixtures[3])) {
			t.Errorf("results = %s, want [%s]", p.Results, fixtureDoc(fixtures[3]))
		}
	})

	t.Run("Sort", func(t *testing.T) {
		registered := rng(core.ColRegisteredAt, "", "")
		for _, tc := range []struct {
			name  string
			where core.Filter
			sort  []core.SortKey
			want  []string
		}{
			{"Default", core.Filter{}, nil, []string{"e6", "e5", "e4", "e3", "e2", "e1"}},
			{"CreatedAtAsc", core.Filter{}, []core.SortKey{{Column: core.ColCreatedAt}}, []string{"e1", "e2", "e3", "e4", "e5", "e6"}},
			{"UpdatedAtAsc", core.Filter{}, []core.SortKey{{Column: core.ColUpdatedAt}}, []string{"e3", "e2", "e4", "e1", "e5", "e6"}},
			{"UpdatedAtDesc", core.Filter{}, []core.SortKey{{Column: core.ColUpdatedAt, Desc: true}}, []string{"e6", "e5", "e1", "e4", "e2", "e3"}},
			{"TrackingIDDesc", core.Filter{}, []core.SortKey{{Column: core.ColTrackingID, Desc: true}}, []string{"e6", "e5", "e4", "e3", "e2", "e1"}},
			{"DateOfEventAsc", core.Filter{}, []core.SortKey{{Column: core.ColDateOfEvent}}, []string{"e3", "e1", "e2", "e4", "e5", "e6"}},
			{"RegisteredAtDesc", registered, []core.SortKey{{Column: core.ColRegisteredAt, Desc: true}}, []string{"e4", "e1"}},
			{"RegisteredAtAsc", registered, []core.SortKey{{Column: core.ColRegisteredAt}}, []string{"e1", "e4"}},
			{"StatusAscTieByID", core.Filter{}, []core.SortKey{{Column: core.ColStatus}}, []string{"e6", "e5", "e2", "e3", "e1", "e4"}},
			{"StatusDescTieByID", core.Filter{}, []core.SortKey{{Column: core.ColStatus, Desc: true}}, []string{"e4", "e1", "e3", "e2", "e5", "e6"}},
			{"TypeThenCreatedAtDesc", core.Filter{}, []core.SortKey{{Column: core.ColType}, {Column: core.ColCreatedAt, Desc: true}}, []string{"e5", "e2", "e1", "e4", "e3", "e6"}},
			{"FilteredDefault", leaf(core.ColFlag, core.OpIn, "validated"), nil, []string{"e6", "e2", "e1"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := ids(t, search(t, s, core.SearchFilter{Where: tc.where, Sort: tc.sort, Limit: 100}))
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("order = %v, want %v", got, tc.want)
				}
			})
		}
	})

	t.Run("Page", func(t *testing.T) {
		for _, tc := range []struct {
			where         core.Filter
			limit, offset int
			want          []string
			total         int
		}{
			{core.Filter{}, 2, 0, []string{"e6", "e5"}, 6},
			{core.Filter{}, 2, 2, []string{"e4", "e3"}, 6},
			{core.Filter{}, 4, 4, []string{"e2", "e1"}, 6},
			{core.Filter{}, 2, 6, nil, 6},
			{core.Filter{}, 2, 100, nil, 6},
			// No limit: a page past the end still counts the matches.
			{core.Filter{}, 0, 6, nil, 6},
			{core.Filter{}, 0, 100, nil, 6},
			{core.Filter{}, 0, 4, []string{"e2", "e1"}, 6},
			{core.Filter{}, 6, 0, []string{"e6", "e5", "e4", "e3", "e2", "e1"}, 6},
			{core.Filter{}, 10, 0, []string{"e6", "e5", "e4", "e3", "e2", "e1"}, 6},
			{leaf(core.ColStatus, core.OpIn, "REGISTERED"), 1, 0, []string{"e4"}, 2},
			{leaf(core.ColStatus, core.OpIn, "REGISTERED"), 1, 1, []string{"e1"}, 2},
			{leaf(core.ColStatus, core.OpIn, "REJECTED"), 5, 0, nil, 0},
			{leaf(core.ColStatus, core.OpIn, "REJECTED"), 5, 5, nil, 0},
		} {
			t.Run(fmt.Sprintf("%d+%d", tc.offset, tc.limit), func(t *testing.T) {
				p := search(t, s, core.SearchFilter{Where: tc.where, Limit: tc.limit, Offset: tc.offset})
				got := ids(t, p)
				if len(got) == 0 {
					got = nil
				}
				if !reflect.DeepEqual(got, tc.want) || p.Total != tc.total {
					t.Errorf("page = %v total %d, want %v total %d", got, p.Total, tc.want, tc.total)
				}
			})
		}
	})

	// Unset values: "" stands for unset on every column, whether the
	// store keeps it as "" or as NULL; a range never matches it.
	t.Run("Unset", func(t *testing.T) {
		s := fresh(t)
		write(t, s, func(tx core.Tx) error {
			for _, id := range []string{"u1", "u2"} {
				created := mustTime(t, "2024-01-01T00:00:00Z")
				if err := tx.InsertEvent(&core.EventDocument{ID: id, Type: "birth", TrackingID: "TRK-" + id,
					CreatedAt: created, UpdatedAt: created}); err != nil {
					return err
				}
				row := &core.IndexRow{EventID: id, Type: "birth", Status: "CREATED", TrackingID: "TRK-" + id,
					CreatedAt: created, UpdatedAt: created, CreatedAtLocation: "loc-a", UpdatedAtLocation: "loc-a",
					CreatedBy: "user-1", UpdatedBy: "user-1", CreatedByUserType: "user", PlaceOfEvent: "loc-a",
					Doc: json.RawMessage(`{"id":"` + id + `"}`)}
				if id == "u2" {
					row.Status, row.RegistrationNumber, row.DateOfEvent = "REGISTERED", "REG-U2", "2024-01-01"
				}
				if err := tx.PutIndex(row); err != nil {
					return err
				}
			}
			return nil
		})
		for _, tc := range []struct {
			name string
			f    core.Filter
			want []string
		}{
			{"DateOfEvent/Open", rng(core.ColDateOfEvent, "", ""), []string{"u2"}},
			{"DateOfEvent/Hi", rng(core.ColDateOfEvent, "", "2024-12-31"), []string{"u2"}},
			{"DateOfEvent/In", leaf(core.ColDateOfEvent, core.OpIn, ""), []string{"u1"}},
			{"RegistrationNumber/Open", rng(core.ColRegistrationNumber, "", ""), []string{"u2"}},
			{"RegistrationNumber/In", leaf(core.ColRegistrationNumber, core.OpIn, ""), []string{"u1"}},
			{"RegistrationNumber/InBoth", leaf(core.ColRegistrationNumber, core.OpIn, "", "REG-U2"), []string{"u1", "u2"}},
			{"RegistrationNumber/AllOf", leaf(core.ColRegistrationNumber, core.OpAllOf, ""), []string{"u1"}},
			{"RegistrationNumber/NotIn", leaf(core.ColRegistrationNumber, core.OpNotIn, ""), []string{"u2"}},
			{"RegistrationNumber/NotInOther", leaf(core.ColRegistrationNumber, core.OpNotIn, "REG-X"), []string{"u1", "u2"}},
			{"RegistrationNumber/PrefixEmpty", leaf(core.ColRegistrationNumber, core.OpPrefix, ""), []string{"u1", "u2"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := search(t, s, core.SearchFilter{Where: tc.f, Limit: 10})
				got := ids(t, p)
				slices.Sort(got)
				if !reflect.DeepEqual(got, tc.want) || p.Total != len(tc.want) {
					t.Errorf("ids = %v total %d, want %v", got, p.Total, tc.want)
				}
			})
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for name, f := range map[string]core.SearchFilter{
			"Column": {Where: leaf("nope", core.OpIn, "x"), Limit: 10},
			"Group":  {Where: core.Filter{Op: "xor", Children: []core.Filter{leaf(core.ColID, core.OpIn, "e1")}}, Limit: 10},
			"Sort":   {Sort: []core.SortKey{{Column: core.ColFlag}}, Limit: 10},
			"Op":     {Where: leaf(core.ColStatus, "like", "x"), Limit: 10},
			// Numbers must be finite (a JSON search cannot carry others).
			"NumInf":     {Where: numIn("child.weight", 3, math.Inf(1)), Limit: 10},
			"NumNaNLong": {Where: numIn("child.weight", append(make([]float64, 40), math.NaN())...), Limit: 10},
			"NumNaNLo":   {Where: numRange("child.weight", f64(math.NaN()), nil), Limit: 10},
			"NumInfHi":   {Where: numRange("child.weight", nil, f64(math.Inf(-1))), Limit: 10},
		} {
			// Invalid, not an internal error: the client gets a 400.
			if _, err := s.Search(t.Context(), f); core.KindOf(err) != core.KindInvalid {
				t.Errorf("%s: error %v, want an invalid-search error", name, err)
			}
		}
	})
}
