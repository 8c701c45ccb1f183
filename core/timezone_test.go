package core_test

import (
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
)

// TestNotInFutureUsesCountryDay: "today" is the country's calendar day
// (Farajaland: Africa/Lusaka, UTC+2), not UTC's.
func TestNotInFutureUsesCountryDay(t *testing.T) {
	cc, err := countryconfig.Load("")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 1, 23, 30, 0, 0, time.UTC) // 01:30 on 2 May in Lusaka
	if got := cc.Today(now); got != "2024-05-02" {
		t.Fatalf("Today = %s", got)
	}
	cases := []struct {
		dob    string
		future bool
	}{{"2024-05-01", false}, {"2024-05-02", false}, {"2024-05-03", true}}
	for _, tc := range cases {
		errs := core.ValidateValues(cc, cc.Event("birth"), core.Declaration{"child.dob": []byte(`"` + tc.dob + `"`)}, now)
		if (len(errs) > 0) != tc.future {
			t.Errorf("child.dob %s: errors %v, future=%v", tc.dob, errs, tc.future)
		}
	}
	bad := core.Settings{CountryCode: "FAR", TimeZone: "Mars/Olympus"}
	if _, err := core.NewCountryConfig(bad, nil, nil); err == nil {
		t.Fatal("an unknown time zone must be refused")
	}
}
