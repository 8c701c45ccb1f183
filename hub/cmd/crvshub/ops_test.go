package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/hub/app"
)

// countryLocations is a country config of its own (not Farajaland): one
// office, one facility.
const countryLocations = `locations:
  - {id: 11111111-1111-4111-8111-111111111111, name: Capital, locationType: ADMIN_STRUCTURE}
  - {id: 22222222-2222-4222-8222-222222222222, name: Capital Office, locationType: CRVS_OFFICE, parentId: 11111111-1111-4111-8111-111111111111}
  - {id: 33333333-3333-4333-8333-333333333333, name: Capital Hospital, locationType: HEALTH_FACILITY, parentId: 11111111-1111-4111-8111-111111111111}
`

// TestClientsCreateOfficeFromConfig: `clients create --office` checks the
// office against the country config the hub serves (--config, default
// CRVSHUB_CONFIG, as for serve), not against the embedded Farajaland.
func TestClientsCreateOfficeFromConfig(t *testing.T) {
	cfg := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg, "locations.yaml"), []byte(countryLocations), 0o600); err != nil {
		t.Fatal(err)
	}
	const countryOffice, farajalandOffice = "22222222-2222-4222-8222-222222222222", "58325d6c-dc50-4779-aa42-06daa5712756"
	data := migrated(t)
	cases := []struct {
		name   string
		env    string // CRVSHUB_CONFIG
		flag   string // --config
		office string
		ok     bool
	}{
		{"--config: the country's office", "", cfg, countryOffice, true},
		{"--config: a Farajaland office the country lacks", "", cfg, farajalandOffice, false},
		{"CRVSHUB_CONFIG: the country's office", cfg, "", countryOffice, true},
		{"--config wins over CRVSHUB_CONFIG", t.TempDir(), cfg, countryOffice, true},
		{"embedded Farajaland: its office", "", "", farajalandOffice, true},
		{"embedded Farajaland: another country's office", "", "", countryOffice, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CRVSHUB_CONFIG", c.env)
			args := []string{"clients", "create", "--data", data, "--name", "his" + string(rune('a'+i)),
				"--scope", "type=record.notify&event=birth", "--office", c.office}
			if c.flag != "" {
				args = append(args, "--config", c.flag)
			}
			_, err := runCLI(t, args...)
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok && (err == nil || !strings.Contains(err.Error(), "not a CRVS office")) {
				t.Fatalf("err = %v, want the office refused", err)
			}
		})
	}
}

// TestClientsNeedDatabase: a clients command given a folder without a
// database (a wrong --data) fails naming it and creates nothing; migrate
// creates the database.
func TestClientsNeedDatabase(t *testing.T) {
	for _, args := range [][]string{
		{"list"},
		{"create", "--name", "his", "--scope", "type=record.notify"},
		{"disable", "00000000-0000-4000-8000-000000000000"},
	} {
		data := filepath.Join(t.TempDir(), "wrong")
		_, err := runCLI(t, append([]string{"clients", args[0], "--data", data}, args[1:]...)...)
		if want := "no crvshub database in " + data; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: err = %v, want %q", strings.Join(args, " "), err, want)
		}
		if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s created %s", strings.Join(args, " "), data)
		}
	}
	data := filepath.Join(t.TempDir(), "new")
	out, err := runCLI(t, "migrate", "--data", data)
	if err != nil || !strings.Contains(out, filepath.Join(data, app.DBFile)) {
		t.Fatalf("migrate: %q (%v)", out, err)
	}
	if out, err := runCLI(t, "clients", "list", "--data", data); err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("clients list after migrate: %q (%v)", out, err)
	}
}

// TestServeDataFolderInUse: serve on a folder another crvshub holds fails
// at once, before the MOSIP mock writes its keys into the folder; migrate
// too.
func TestServeDataFolderInUse(t *testing.T) {
	data := t.TempDir()
	lock, err := app.LockDataDir(data)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	for _, args := range [][]string{
		{"serve", "--with-mocks", "--data", data, "--addr", "127.0.0.1:0"},
		{"migrate", "--data", data},
	} {
		_, err := runCLI(t, args...)
		if err == nil || !strings.Contains(err.Error(), "is in use by another crvshub (pid ") {
			t.Fatalf("%s: err = %v, want the folder in use", args[0], err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "keys")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("serve wrote to a folder another hub holds (keys: %v)", err)
	}
}

// TestDefaultPublicURL: without --public-url the callback URL comes from
// the listen address, except that a hub on every interface (0.0.0.0,
// [::]) with a MOSIP partner that has no callbackUrl refuses to start: it
// would tell MOSIP to call http://[::]:8080. The in-process mock gets the
// loopback address.
func TestDefaultPublicURL(t *testing.T) {
	mosip := &app.PartnersConfig{Adapters: map[string]json.RawMessage{"mosip": json.RawMessage(`{"baseUrl":"https://mosip.example"}`)}}
	withCallback := &app.PartnersConfig{Adapters: map[string]json.RawMessage{
		"mosip": json.RawMessage(`{"baseUrl":"https://mosip.example","callbackUrl":"https://hub.example/cb"}`)}}
	deliveryOnly := &app.PartnersConfig{Delivery: &app.DeliverySettings{MaxRetries: 1}}
	cases := []struct {
		addr      string
		partners  *app.PartnersConfig
		withMocks bool
		want      string // "" = refused
	}{
		{"127.0.0.1:8080", mosip, false, "http://127.0.0.1:8080"},
		{"[::1]:8080", mosip, false, "http://[::1]:8080"},
		{"10.0.0.5:8080", mosip, false, "http://10.0.0.5:8080"},
		{"0.0.0.0:8080", mosip, false, ""},
		{"[::]:8080", mosip, false, ""},
		{"0.0.0.0:8080", withCallback, false, "http://0.0.0.0:8080"},
		{"0.0.0.0:8080", nil, false, "http://0.0.0.0:8080"},
		{"[::]:8080", deliveryOnly, false, "http://[::]:8080"},
		{"0.0.0.0:8080", nil, true, "http://127.0.0.1:8080"},
		{"[::]:8080", deliveryOnly, true, "http://[::1]:8080"},
	}
	for _, c := range cases {
		addr, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := defaultPublicURL(addr, c.partners, c.withMocks)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), "--public-url / CRVSHUB_PUBLIC_URL is required") {
				t.Errorf("%s: %q, %v; want it refused naming --public-url", c.addr, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s (mocks %v): %q, %v; want %q", c.addr, c.withMocks, got, err, c.want)
		}
	}
}

// TestServeRefusesWildcardWithoutPublicURL: serve itself refuses, before
// opening the hub, with the partners file of a real deployment.
func TestServeRefusesWildcardWithoutPublicURL(t *testing.T) {
	partners := filepath.Join(t.TempDir(), "partners.yaml")
	if err := os.WriteFile(partners, []byte("mosip:\n  baseUrl: http://127.0.0.1:1\n  packetClientId: crvs\n  packetClientSecret: env:MOSIP_SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CRVSHUB_PUBLIC_URL", "")
	data := t.TempDir()
	_, err := runCLI(t, "serve", "--data", data, "--addr", "0.0.0.0:0", "--partners", partners)
	if err == nil || !strings.Contains(err.Error(), "--public-url / CRVSHUB_PUBLIC_URL is required") {
		t.Fatalf("serve on 0.0.0.0 with MOSIP and no public URL: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, app.DBFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("serve opened the hub before refusing (%v)", err)
	}
}
