package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
	"github.com/crvshub/crvshub/hub/app"
)

// Demo ids from the embedded Farajaland config.
const (
	demoOffice   = "58325d6c-dc50-4779-aa42-06daa5712756" // Ibombo District Office
	demoFacility = "a60080a9-9ddb-4d93-bfac-9f40239b3219" // Ibombo District Hospital
)

var demoScopes = []string{
	"type=record.create&event=birth,death",
	"type=record.notify&event=birth,death",
	"type=record.read&event=birth,death",
	"type=record.search&event=birth,death",
	"type=record.declare&event=birth,death",
	"type=record.validate&event=birth,death",
	"type=record.register&event=birth,death",
	"type=record.reject&event=birth,death",
	"type=record.archive&event=birth,death",
	"type=record.print-certified-copies&event=birth,death",
	"type=record.correct&event=birth,death",
}

func loadConfig() (*core.CountryConfig, error) {
	return countryconfig.Load(os.Getenv("CRVSHUB_CONFIG"))
}

// printDemo creates the demo client on first run (its credentials are kept
// in <data>/demo-client.json, mode 0600, which is never committed) and
// prints them with ready curl lines.
func printDemo(ctx context.Context, a *app.App, dataDir, base string, w io.Writer) error {
	path := filepath.Join(dataDir, "demo-client.json")
	var cred credentials
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &cred); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		id, secret, err := a.Clients.Create(ctx, "demo client", demoScopes, demoOffice, core.Principal{ID: "crvshub-demo", Type: core.UserTypeSystem})
		if err != nil {
			return fmt.Errorf("create demo client: %w", err)
		}
		cred = credentials{id, secret}
		b, _ := json.MarshalIndent(cred, "", "  ")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("save demo client: %w", err)
		}
	default:
		return err
	}
	fmt.Fprintf(w, `
crvshub is running at %[1]s (demo mode; data in %[2]s)

Demo client (kept in %[3]s):
  client_id:     %[4]s
  client_secret: %[5]s

Get a token and notify a birth:

  TOKEN=$(curl -s -X POST %[1]s/auth/token -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials","client_id":"%[4]s","client_secret":"%[5]s"}' \
    | sed -E 's/.*"access_token":"([^"]+)".*/\1/')

  curl -s -X POST %[1]s/api/events/events/notify -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' \
    -d '{"transactionId":"demo-'$(date +%%s)'","eventType":"birth","createdAtLocation":"%[6]s",
         "declaration":{"child.name":{"firstname":"Ada","surname":"Banda"},"child.gender":"female",
         "child.dob":"2024-02-02","child.placeOfBirth":"HEALTH_FACILITY","child.birthLocation":"%[7]s"}}'

`, base, dataDir, path, cred.ClientID, cred.ClientSecret, demoOffice, demoFacility)
	return nil
}
