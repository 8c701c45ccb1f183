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
	"time"

	"github.com/crvshub/crvshub/core"
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
	"type=record.confirm-registration",
	"type=record.reject-registration",
	"type=ops.manage",
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

// demoBirthThroughMOSIP registers a verified birth as the demo client once
// the hub serves, waits for MOSIP's callback and prints the VID it issued.
func demoBirthThroughMOSIP(ctx context.Context, a *app.App, dataDir string, w io.Writer) {
	cred, err := readDemoClient(dataDir)
	if err != nil {
		fmt.Fprintln(w, "demo birth: ", err)
		return
	}
	scopes, err := core.ParseScopes(demoScopes)
	if err != nil {
		fmt.Fprintln(w, "demo birth: ", err)
		return
	}
	p := core.Principal{ID: cred.ClientID, Type: core.UserTypeSystem, Scopes: scopes, Office: demoOffice}
	tx := fmt.Sprintf("demo-mosip-%d", time.Now().Unix())
	decl := core.Declaration{}
	for k, v := range map[string]any{
		"child.name": map[string]string{"firstname": "Tiwonge", "surname": "Banda"}, "child.gender": "female",
		"child.dob": time.Now().AddDate(0, 0, -3).Format(time.DateOnly), "child.placeOfBirth": "HEALTH_FACILITY",
		"child.birthLocation": demoFacility, "informant.relation": "MOTHER",
		"mother.name": map[string]string{"firstname": "Mary", "surname": "Banda"}, "mother.nid": "1234567891",
		"mother.verified": "verified",
	} {
		b, _ := json.Marshal(v)
		decl[k] = b
	}
	svc := a.Service
	ev, _, err := svc.CreateAndNotify(ctx, p, core.CreateAndNotifyInput{TransactionID: tx, EventType: "birth", CreatedAtLocation: demoOffice, Declaration: decl})
	if err == nil {
		_, err = svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionDeclare, TransactionID: tx + "-declare", CreatedAtLocation: demoOffice})
	}
	if err == nil {
		_, err = svc.Act(ctx, p, ev.ID, core.ActionInput{Type: core.ActionRegister, TransactionID: tx + "-register", CreatedAtLocation: demoOffice})
	}
	if err != nil {
		fmt.Fprintln(w, "demo birth: ", err)
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		cur, err := a.Store.Event(ctx, ev.ID)
		if err != nil {
			continue
		}
		if st := core.Derive(cur); st.Status == core.EventRegistered {
			fmt.Fprintf(w, "Demo: birth %s (Tiwonge Banda) was sent to MOSIP (the mock) and registered as %s; MOSIP issued the VID %s (child.nid)\n\n",
				cur.TrackingID, st.Registered.RegistrationNumber, st.Declaration["child.nid"])
			return
		}
	}
	fmt.Fprintf(w, "Demo: birth %s is still waiting for MOSIP (see GET /api/events/ops/pending)\n", ev.TrackingID)
}

func readDemoClient(dataDir string) (credentials, error) {
	var cred credentials
	b, err := os.ReadFile(filepath.Join(dataDir, "demo-client.json"))
	if err != nil {
		return cred, err
	}
	return cred, json.Unmarshal(b, &cred)
}
