package mosip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var fixedNow = time.Date(2026, 11, 27, 6, 30, 15, 123e6, time.UTC)

func birthRegistration(t *testing.T, decl map[string]any) adapters.Registration {
	return adapters.Registration{
		EventID: "0c6e8a52-3a9d-4b7e-9d3f-5d3c1e2a9b10", EventType: "birth", TrackingID: "B8Q2ZK1",
		ActionID: "7f0e2f3c-1d2b-4c5a-8e9f-0a1b2c3d4e5f", ActionType: core.ActionRegister,
		RegistrationNumber: "BRN2026000123", Declaration: declaration(t, decl), CorrelationID: "req-42",
	}
}

func deathRegistration(t *testing.T, decl map[string]any) adapters.Registration {
	return adapters.Registration{
		EventID: "a1d9c6b0-77e2-4f51-9a33-0b8c2d4e6f70", EventType: "death", TrackingID: "D3X9PL0",
		ActionID: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", ActionType: core.ActionRegister,
		RegistrationNumber: "DRN2026000456", Declaration: declaration(t, decl), CorrelationID: "req-43",
	}
}

// Declarations modelled on the OpenCRVS v2 Farajaland birth/death forms
// (testharness/hubtest BirthDeclaration / DeathDeclaration).
var (
	fullBirth = map[string]any{
		"child.name":         map[string]string{"firstname": "Amani", "middlename": "Neema", "surname": "Banda"},
		"child.gender":       "female",
		"child.dob":          "2026-10-02",
		"child.placeOfBirth": "HEALTH_FACILITY",
		"informant.relation": "MOTHER",
		"informant.phoneNo":  "0911111111",
		"informant.email":    "mary.banda@example.org",
		"mother.name":        map[string]string{"firstname": "Mary", "surname": "Banda"},
		"mother.nid":         "1234567890",
		"father.name":        map[string]string{"firstname": "Joseph", "middlename": "K.", "surname": "Banda"},
	}
	minimalBirth = map[string]any{
		"child.name": map[string]string{"firstname": "Tumaini", "surname": "Phiri"},
		"child.dob":  "2026-09-30",
	}
	fullDeath = map[string]any{
		"deceased.name":              map[string]string{"firstname": "Peter", "surname": "Mwale"},
		"deceased.gender":            "male",
		"deceased.dob":               "1950-01-01",
		"deceased.nid":               "9876543210",
		"eventDetails.date":          "2026-11-01",
		"eventDetails.mannerOfDeath": "MANNER_NATURAL",
		"informant.relation":         "SPOUSE",
	}
	minimalDeath = map[string]any{
		"deceased.name": map[string]string{"firstname": "Grace", "surname": "Zulu"},
		"deceased.nid":  "1234567891",
	}
)

func TestPacketID(t *testing.T) {
	a := PacketID("10001", "10004", "ev-1", "CRVS_NEW")
	if a != PacketID("10001", "10004", "ev-1", "CRVS_NEW") {
		t.Fatal("not deterministic")
	}
	if !regexp.MustCompile(`^1000110004[0-9]{19}$`).MatchString(a) {
		t.Fatalf("PacketID = %q, want centre+machine+19 digits (29)", a)
	}
	others := []string{
		PacketID("10001", "10004", "ev-1", "CRVS_DEATH"),
		PacketID("10001", "10004", "ev-2", "CRVS_NEW"),
		PacketID("10001", "10004", "ev-1|CRVS", "NEW"), // the separator is part of the hash input
	}
	for _, o := range others {
		if o == a || len(o) != 29 {
			t.Errorf("PacketID collision or bad length: %q vs %q", o, a)
		}
	}
	if got := PacketID("12345", "67890", "e", "a"); !strings.HasPrefix(got, "1234567890") {
		t.Errorf("prefix: %q", got)
	}
}

// TestRegisterGolden checks the createPacket and workflowinstance bodies
// against testdata/*.golden.json (go test -run Golden -update rewrites).
func TestRegisterGolden(t *testing.T) {
	cases := []struct {
		name string
		reg  func(*testing.T) adapters.Registration
	}{
		{"birth", func(t *testing.T) adapters.Registration { return birthRegistration(t, fullBirth) }},
		{"birth-minimal", func(t *testing.T) adapters.Registration { return birthRegistration(t, minimalBirth) }},
		{"death", func(t *testing.T) adapters.Registration { return deathRegistration(t, fullDeath) }},
		{"death-minimal", func(t *testing.T) adapters.Registration { return deathRegistration(t, minimalDeath) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeMOSIP(t)
			cfg := baseConfig(f)
			cfg.Now = func() time.Time { return fixedNow }
			a, corr, _ := newAdapter(t, cfg)
			reg := tc.reg(t)
			out, err := a.Register(context.Background(), reg)
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			aid := PacketID("10001", "10004", reg.EventID, map[string]string{"birth": "CRVS_NEW", "death": "CRVS_DEATH"}[reg.EventType])
			if out.Kind != adapters.Pending || out.Reference != aid {
				t.Fatalf("outcome %+v, want Pending %s", out, aid)
			}
			c, err := corr.Correlation(context.Background(), "mosip", aid)
			if err != nil {
				t.Fatalf("correlation: %v", err)
			}
			if c.EventID != reg.EventID || c.ActionID != reg.ActionID || c.ActionType != reg.ActionType ||
				c.RegistrationNumber != reg.RegistrationNumber || c.CorrelationID != reg.CorrelationID {
				t.Errorf("correlation %+v does not match the registration", c)
			}
			got, err := json.MarshalIndent(map[string]any{"createPacket": f.packets[0], "workflowinstance": f.workflows[0]}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file:\n%s", tc.name, got)
			}
			for _, id := range f.corrIDs {
				if id != reg.CorrelationID {
					t.Errorf("X-Correlation-ID %q, want %q", id, reg.CorrelationID)
				}
			}
		})
	}
}

func TestRegisterMappingErrors(t *testing.T) {
	cases := []struct {
		name  string
		event string
		decl  map[string]any
		regNo string
	}{
		{"birth without child.dob", "birth", map[string]any{"child.name": map[string]string{"firstname": "A", "surname": "B"}}, "R1"},
		{"birth without child.name", "birth", map[string]any{"child.dob": "2026-01-01"}, "R1"},
		{"birth with a bad date", "birth", map[string]any{"child.name": map[string]string{"firstname": "A"}, "child.dob": "01/02/2026"}, "R1"},
		{"birth with a name that is a string", "birth", map[string]any{"child.name": "A B", "child.dob": "2026-01-01"}, "R1"},
		{"birth with a numeric gender", "birth", map[string]any{"child.name": map[string]string{"firstname": "A"}, "child.dob": "2026-01-01", "child.gender": 1}, "R1"},
		{"birth without a registration number", "birth", minimalBirth, ""},
		{"death without deceased.nid", "death", map[string]any{"deceased.name": map[string]string{"firstname": "A"}}, "R1"},
		{"death with a bad event date", "death", map[string]any{"deceased.name": map[string]string{"firstname": "A"}, "deceased.nid": "1", "eventDetails.date": "yesterday"}, "R1"},
		{"tennis-club-membership", "tennis-club-membership", minimalBirth, "R1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeMOSIP(t)
			a, corr, _ := newAdapter(t, baseConfig(f))
			reg := birthRegistration(t, tc.decl)
			reg.EventType, reg.RegistrationNumber = tc.event, tc.regNo
			_, err := a.Register(context.Background(), reg)
			if !adapters.IsPermanent(err) {
				t.Fatalf("err = %v, want permanent", err)
			}
			if auth, p, w := f.counts(); auth+p+w != 0 || corr.len() != 0 {
				t.Errorf("MOSIP was called (%d/%d/%d) or a correlation stored (%d) for bad data", auth, p, w, corr.len())
			}
		})
	}
}

func TestRegisterRetrySameAID(t *testing.T) {
	f := newFakeMOSIP(t)
	a, corr, _ := newAdapter(t, baseConfig(f))
	reg := birthRegistration(t, fullBirth)
	o1, err1 := a.Register(context.Background(), reg)
	o2, err2 := a.Register(context.Background(), reg)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if o1.Reference != o2.Reference {
		t.Fatalf("retry made a new AID: %s vs %s", o1.Reference, o2.Reference)
	}
	id := func(p map[string]any) any { return p["request"].(map[string]any)["id"] }
	if id(f.packets[0]) != id(f.packets[1]) || id(f.packets[0]) != o1.Reference {
		t.Errorf("packet ids %v %v, want %s", id(f.packets[0]), id(f.packets[1]), o1.Reference)
	}
	if corr.len() != 1 {
		t.Errorf("%d correlations, want 1", corr.len())
	}
}

// TestRegisterSameRecordSameAID: every action MOSIP is sent for one
// record (the REGISTER, a REGISTER made again after an operator rejected
// the first while MOSIP had it, an approved correction) carries the
// record's one AID, so MOSIP updates its packet and identity instead of
// issuing a second VID; the correlation then names the newest action, so
// MOSIP's credential resolves it.
func TestRegisterSameRecordSameAID(t *testing.T) {
	cases := []struct {
		name     string
		reg      func(*testing.T) adapters.Registration
		actionID string
		typ      core.ActionType
	}{
		{"birth registered again after a reject", func(t *testing.T) adapters.Registration { return birthRegistration(t, fullBirth) }, "second-register", core.ActionRegister},
		{"birth correction approved", func(t *testing.T) adapters.Registration { return birthRegistration(t, fullBirth) }, "approve-correction", core.ActionApproveCorrection},
		{"death registered again", func(t *testing.T) adapters.Registration { return deathRegistration(t, fullDeath) }, "second-register", core.ActionRegister},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeMOSIP(t)
			a, corr, _ := newAdapter(t, baseConfig(f))
			ctx := context.Background()
			first := tc.reg(t)
			o1, err := a.Register(ctx, first)
			if err != nil {
				t.Fatal(err)
			}
			next := tc.reg(t)
			next.ActionID, next.ActionType = tc.actionID, tc.typ
			o2, err := a.Register(ctx, next)
			if err != nil {
				t.Fatal(err)
			}
			if o1.Reference != o2.Reference {
				t.Fatalf("a second action of the same record got a new AID (%s, then %s): MOSIP would create a second identity", o1.Reference, o2.Reference)
			}
			other := tc.reg(t)
			other.EventID = "another-record"
			o3, err := a.Register(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			if o3.Reference == o1.Reference {
				t.Fatalf("two records share the AID %s", o1.Reference)
			}
			c, err := corr.Correlation(ctx, "mosip", o1.Reference)
			if err != nil {
				t.Fatal(err)
			}
			if c.ActionID != tc.actionID || c.ActionType != tc.typ {
				t.Errorf("correlation names action %s (%s), want the newest %s (%s)", c.ActionID, c.ActionType, tc.actionID, tc.typ)
			}
		})
	}
}

// TestRegisterKeepsAnOlderPacketID: a record an older hub sent under a
// packet id derived another way (then from event and action) and still
// waiting is sent again under that id, so MOSIP updates its packet instead
// of creating a second identity.
func TestRegisterKeepsAnOlderPacketID(t *testing.T) {
	f := newFakeMOSIP(t)
	a, corr, _ := newAdapter(t, baseConfig(f))
	ctx := context.Background()
	r := birthRegistration(t, fullBirth)
	legacy := "10001100049999999999999999999"
	if err := corr.PutCorrelation(ctx, core.Correlation{Partner: "mosip", Key: legacy, EventID: r.EventID, ActionID: r.ActionID,
		ActionType: r.ActionType, RegistrationNumber: r.RegistrationNumber, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	out, err := a.Register(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if out.Reference != legacy {
		t.Fatalf("sent again under %s, want the packet id it was first sent with %s", out.Reference, legacy)
	}
	if corr.len() != 1 {
		t.Errorf("%d correlations, want the one, replaced", corr.len())
	}
	// a record with no packet outstanding gets its per-record id
	other := birthRegistration(t, fullBirth)
	other.EventID = "never-sent"
	if out, err := a.Register(ctx, other); err != nil || out.Reference == legacy {
		t.Fatalf("a new record: %v %v", out.Reference, err)
	}
}

func TestRegisterCorrelationStoreFails(t *testing.T) {
	f := newFakeMOSIP(t)
	a, corr, _ := newAdapter(t, baseConfig(f))
	corr.putErr = errors.New("disk full")
	_, err := a.Register(context.Background(), birthRegistration(t, fullBirth))
	if err == nil || adapters.IsPermanent(err) {
		t.Fatalf("err = %v, want transient", err)
	}
	if _, p, _ := f.counts(); p != 0 {
		t.Errorf("createPacket called although the correlation was not stored")
	}
}

func TestTokenCaching(t *testing.T) {
	f := newFakeMOSIP(t)
	a, _, _ := newAdapter(t, baseConfig(f))
	ctx := context.Background()
	for i := range 5 {
		reg := birthRegistration(t, fullBirth)
		reg.ActionID = reg.ActionID + string(rune('a'+i))
		if _, err := a.Register(ctx, reg); err != nil {
			t.Fatal(err)
		}
	}
	if auth, p, w := f.counts(); auth != 1 || p != 5 || w != 5 {
		t.Fatalf("auth/packets/workflows = %d/%d/%d, want 1/5/5", auth, p, w)
	}
	// MOSIP forgets the token: one 401, one re-authentication, success.
	f.revoke()
	if _, err := a.Register(ctx, birthRegistration(t, fullBirth)); err != nil {
		t.Fatalf("after revoke: %v", err)
	}
	if auth, p, _ := f.counts(); auth != 2 || p != 6 {
		t.Fatalf("auth/packets = %d/%d, want 2/6", auth, p)
	}
}

func TestTokenExpiry(t *testing.T) {
	for _, notJWT := range []bool{false, true} {
		t.Run(map[bool]string{false: "jwt exp", true: "opaque 5 min"}[notJWT], func(t *testing.T) {
			f := newFakeMOSIP(t)
			f.notJWT = notJWT
			now := fixedNow
			f.now = func() time.Time { return now }
			f.exp = 20 * time.Minute
			cfg := baseConfig(f)
			cfg.Now = func() time.Time { return now }
			a, _, _ := newAdapter(t, cfg)
			reg := func() {
				if _, err := a.Register(context.Background(), birthRegistration(t, minimalBirth)); err != nil {
					t.Fatal(err)
				}
			}
			reg()
			now = now.Add(4 * time.Minute)
			reg()
			if auth, _, _ := f.counts(); auth != 1 {
				t.Fatalf("auth calls = %d after 4 min, want 1", auth)
			}
			if notJWT {
				now = now.Add(2 * time.Minute) // 6 min: past the opaque token's 5 min
			} else {
				now = now.Add(16 * time.Minute) // 20 min: at the JWT's exp
			}
			reg()
			if auth, _, _ := f.counts(); auth != 2 {
				t.Fatalf("auth calls = %d after expiry, want 2", auth)
			}
		})
	}
}

func TestTokenExpiryParsing(t *testing.T) {
	now := fixedNow
	if got := tokenExpiry(fakeJWT(now.Add(time.Hour), 1), now); !got.Equal(now.Add(time.Hour - tokenSkew).Truncate(time.Second)) {
		t.Errorf("jwt: %v", got)
	}
	for _, tok := range []string{"opaque", "a.b.c", "a." + "eyJleHAiOiJ4In0" + ".c", ""} {
		if got := tokenExpiry(tok, now); !got.Equal(now.Add(5 * time.Minute)) {
			t.Errorf("%q: %v, want now+5min", tok, got)
		}
	}
}

func TestBadCredentialsAreTransient(t *testing.T) {
	f := newFakeMOSIP(t)
	cfg := baseConfig(f)
	cfg.PacketClient.Secret = "wrong"
	a, _, _ := newAdapter(t, cfg)
	_, err := a.Register(context.Background(), birthRegistration(t, fullBirth))
	if err == nil || adapters.IsPermanent(err) {
		t.Fatalf("err = %v, want transient", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), testSecret) {
		t.Errorf("error names the secret: %v", err)
	}
}

func TestErrorClassification(t *testing.T) {
	reply := func(status int, body string) func(http.ResponseWriter) bool {
		return func(w http.ResponseWriter) bool {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
	hang := func(w http.ResponseWriter) bool { time.Sleep(700 * time.Millisecond); return false }
	cases := []struct {
		name      string
		packet    func(http.ResponseWriter) bool
		workflow  func(http.ResponseWriter) bool
		permanent bool
		mentions  string
		workflows int
	}{
		{"createPacket 500", reply(500, `oops`), nil, false, "createPacket: HTTP 500", 0},
		{"createPacket 503 with MOSIP errors", reply(503, `{"errors":[{"errorCode":"KER-PKM-500","message":"down"}]}`), nil, false, "KER-PKM-500", 0},
		{"createPacket 429", reply(429, ``), nil, false, "HTTP 429", 0},
		{"createPacket 400", reply(400, `{"errors":[{"errorCode":"KER-PUT-027","message":"schema validation failed"}]}`), nil, true, "createPacket: permanent partner error: HTTP 400: KER-PUT-027 schema validation failed", 0},
		{"createPacket 404", reply(404, `not found`), nil, true, "HTTP 404", 0},
		{"createPacket 200 with errors", reply(200, `{"response":null,"errors":[{"errorCode":"KER-PUT-019","message":"Packet already exists"}]}`), nil, true, "KER-PUT-019", 0},
		{"createPacket 200 not JSON", reply(200, `<html>proxy</html>`), nil, false, "not JSON", 0},
		{"createPacket timeout", hang, nil, false, "createPacket", 0},
		{"workflow 502", nil, reply(502, ``), false, "workflowinstance: HTTP 502", 1},
		{"workflow 200 with errors", nil, reply(200, `{"response":null,"errors":[{"errorCode":"RPR-WIN-001","message":"invalid process"}]}`), true, "workflowinstance: permanent partner error: RPR-WIN-001 invalid process", 1},
		{"workflow 422", nil, reply(422, `{}`), true, "workflowinstance", 1},
		{"createPacket 401 after refresh", reply(401, `{}`), nil, false, "token refused after re-authenticating", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeMOSIP(t)
			f.packetReply, f.workflowReply = tc.packet, tc.workflow
			cfg := baseConfig(f)
			cfg.Timeout = 300 * time.Millisecond
			a, corr, _ := newAdapter(t, cfg)
			_, err := a.Register(context.Background(), birthRegistration(t, fullBirth))
			if err == nil {
				t.Fatal("no error")
			}
			if adapters.IsPermanent(err) != tc.permanent {
				t.Errorf("permanent = %v, want %v (%v)", !tc.permanent, tc.permanent, err)
			}
			if !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("error %q does not mention %q", err, tc.mentions)
			}
			if _, _, w := f.counts(); w != tc.workflows {
				t.Errorf("workflow calls = %d, want %d", w, tc.workflows)
			}
			if corr.len() != 1 {
				t.Errorf("correlation not stored before the call")
			}
			if strings.Contains(err.Error(), "opaque-token") || strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error names the token: %v", err)
			}
		})
	}
	t.Run("network error", func(t *testing.T) {
		f := newFakeMOSIP(t)
		cfg := baseConfig(f)
		f.srv.Close()
		a, _, _ := newAdapter(t, cfg)
		_, err := a.Register(context.Background(), birthRegistration(t, fullBirth))
		if err == nil || adapters.IsPermanent(err) {
			t.Fatalf("err = %v, want transient", err)
		}
	})
}

func TestNewNamesMissingFields(t *testing.T) {
	_, err := New(Config{CenterID: "123"}, newMemCorr(), &memResolver{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"AuthURL", "CreatePacketURL", "ProcessPacketURL", "WebSubHubURL", "CallbackURL",
		"PacketClient.ID", "PacketClient.Secret", "WebSubClient.ID", "SchemaJSON", "DecryptKey", "CredentialAllowList", "CenterID"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	f := newFakeMOSIP(t)
	cfg := baseConfig(f)
	cfg.IDAAuthURL = "http://127.0.0.1:1/idauthentication/v1/auth"
	_, err = New(cfg, newMemCorr(), &memResolver{})
	for _, want := range []string{"MispLK", "PartnerID", "APIKey", "DomainURI", "IDACert", "SignKey", "SignCert"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("half IDA config: error does not name %s: %v", want, err)
		}
	}
	a, err := New(baseConfig(f), newMemCorr(), &memResolver{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != "mosip" || a.cfg.Topic != "CREDENTIAL_ISSUED" || a.cfg.LeaseSeconds != 86400 || a.cfg.NIDField != "child.nid" {
		t.Errorf("defaults not applied: %+v", a.cfg)
	}
	if _, err := a.Verify(context.Background(), adapters.IdentityClaim{NID: "1"}); !errors.Is(err, ErrIDANotConfigured) {
		t.Errorf("Verify without IDA: %v", err)
	}
}
