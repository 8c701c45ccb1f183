package core_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

func TestNormalizeText(t *testing.T) {
	cases := map[string]string{
		"":                       "",
		"   ":                    "",
		"John":                   "john",
		"  Zoë   MÜLLER ":        "zoe muller",
		"São Tomé":               "sao tome",
		"ÅNGSTRÖM":               "angstrom",
		"Ñandú":                  "nandu",
		"e\u0301cole":            "ecole", // already decomposed
		"Crème\tBrûlée\n":        "creme brulee",
		"a\u00a0b":               "a b", // no-break space
		"Mary-Jane  O'Brien":     "mary-jane o'brien",
		"HEALTH_FACILITY":        "health_facility",
		"12 34":                  "12 34",
		"\u0130stanbul":          "istanbul", // dotted capital I
		"Ελένη":                  "ελενη",
		"b7test2 ":               "b7test2",
		"  leading and trailing": "leading and trailing",
		"\xf2Ñ":                  "\ufffdn", // invalid UTF-8 does not shield the next accent
	}
	for in, want := range cases {
		if got := core.NormalizeText(in); got != want {
			t.Errorf("NormalizeText(%q) = %q, want %q", in, got, want)
		}
		if got := core.NormalizeText(core.NormalizeText(in)); got != want {
			t.Errorf("NormalizeText is not idempotent on %q: %q", in, got)
		}
	}
}

func TestTokens(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"Mary-Jane  O'Brien", []string{"mary", "jane", "o", "brien"}},
		{"  Zoë MÜLLER  ", []string{"zoe", "muller"}},
		{"Agent 007", []string{"agent", "007"}},
		{" - , ", nil},
		{"", nil},
	}
	for _, c := range cases {
		if got := core.Tokens(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Tokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSoundex(t *testing.T) {
	cases := map[string]string{
		"Robert":     "R163",
		"Rupert":     "R163",
		"Ashcraft":   "A261", // h between two letters of one code: coded once
		"Ashcroft":   "A261",
		"Tymczak":    "T522", // vowel between two letters of one code: coded twice
		"Pfister":    "P236", // first letter's code counts for the next letter
		"Honeyman":   "H555",
		"Washington": "W252",
		"Gutierrez":  "G362",
		"Jackson":    "J250",
		"Lee":        "L000",
		"a":          "A000",
		"O'Brien":    "O165",
		"Müller":     "M460",
		"MULLER":     "M460",
		"  smith ":   "S530",
		"Smyth":      "S530",
		"":           "",
		"123":        "",
		"-":          "",
	}
	for in, want := range cases {
		if got := core.Soundex(in); got != want {
			t.Errorf("Soundex(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewTrackingID(t *testing.T) {
	seen := map[string]bool{}
	for range 2000 {
		id := core.NewTrackingID()
		if len(id) != core.TrackingIDLength {
			t.Fatalf("tracking id %q has length %d", id, len(id))
		}
		for _, r := range id {
			if !strings.ContainsRune(core.TrackingIDAlphabet, r) {
				t.Fatalf("tracking id %q has %q outside the alphabet", id, r)
			}
		}
		if seen[id] {
			t.Fatalf("tracking id %q drawn twice in 2000 draws", id)
		}
		seen[id] = true
	}
	for _, confusing := range "01OIL" {
		if strings.ContainsRune(core.TrackingIDAlphabet, confusing) {
			t.Errorf("alphabet holds the confusable %q", confusing)
		}
	}
	if len(core.TrackingIDAlphabet) != 31 {
		t.Errorf("alphabet has %d symbols", len(core.TrackingIDAlphabet))
	}
}

func TestNewID(t *testing.T) {
	a, b := core.NewID(), core.NewID()
	// version 7: ids made later sort after (see NewID)
	if !core.IsUUID(a) || a == b || a[14] != '7' || b[14] != '7' || a > b {
		t.Fatalf("NewID: %s %s", a, b)
	}
}

func TestRandomRegistrationNumbers(t *testing.T) {
	n := core.RandomRegistrationNumbers{}.Next(nil)
	if len(n) != 12 || strings.Trim(n, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		t.Errorf("default registration number %q: want 12 of 0-9A-Z", n)
	}
	g := core.RandomRegistrationNumbers{Config: core.RegistrationNumberConfig{Prefix: "FA-", Length: 5, Alphabet: "XY"}}
	for range 50 {
		n := g.Next(&core.EventDocument{})
		if !strings.HasPrefix(n, "FA-") || len(n) != 8 || strings.Trim(n[3:], "XY") != "" {
			t.Fatalf("configured registration number %q", n)
		}
	}
	cc := farajaland(t)
	n = core.RandomRegistrationNumbers{Config: cc.Settings.RegistrationNumber}.Next(nil)
	if len(n) != 12 {
		t.Errorf("Farajaland registration number %q", n)
	}
}

func TestFormatTime(t *testing.T) {
	cat := time.FixedZone("CAT", 2*3600)
	if got := core.FormatTime(time.Date(2024, 2, 2, 10, 30, 0, 0, cat)); got != "2024-02-02T08:30:00.000000000Z" {
		t.Errorf("FormatTime = %s", got)
	}
	// text order is time order, whatever the zone and precision
	times := []time.Time{
		time.Date(2024, 2, 2, 8, 30, 0, 1, time.UTC),
		time.Date(2024, 2, 2, 10, 30, 0, 0, cat),
		time.Date(2024, 2, 2, 8, 30, 0, 100_000_000, time.UTC),
		time.Date(2023, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2024, 2, 2, 8, 30, 0, 10, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 0, cat),
	}
	var texts []string
	for _, tm := range times {
		s := core.FormatTime(tm)
		if len(s) != len(core.TimeLayout) {
			t.Errorf("%s is not fixed width", s)
		}
		texts = append(texts, s)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	slices.Sort(texts)
	for i := range times {
		if core.FormatTime(times[i]) != texts[i] {
			t.Fatalf("text order differs from time order at %d: %s vs %s", i, core.FormatTime(times[i]), texts[i])
		}
	}
}
