package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), err
}

// migrated is a data folder with a database, as the clients commands need.
func migrated(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	if _, err := runCLI(t, "migrate", "--data", data); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestClientsCommands(t *testing.T) {
	data := migrated(t)
	out, err := runCLI(t, "clients", "create", "--data", data, "--name", "Ibombo HIS",
		"--scope", "type=record.create&event=birth", "--scope", "record.notify[event=birth|death]",
		"--office", "58325d6c-dc50-4779-aa42-06daa5712756")
	if err != nil {
		t.Fatal(err)
	}
	var cred credentials
	if err := json.Unmarshal([]byte(out), &cred); err != nil || cred.ClientID == "" || len(cred.ClientSecret) < 20 {
		t.Fatalf("create printed %q (%v)", out, err)
	}
	out, err = runCLI(t, "clients", "list", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, cred.ClientSecret) {
		t.Fatal("list must never print a secret")
	}
	var list []struct {
		ID     string   `json:"id"`
		Status string   `json:"status"`
		Scopes []string `json:"scopes"`
		Office string   `json:"office"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 1 {
		t.Fatalf("list printed %q (%v)", out, err)
	}
	got := list[0]
	if got.ID != cred.ClientID || got.Status != "active" || got.Office != "58325d6c-dc50-4779-aa42-06daa5712756" ||
		strings.Join(got.Scopes, " ") != "type=record.create&event=birth type=record.notify&event=birth,death" {
		t.Fatalf("listed %+v", got)
	}
	for _, step := range []struct{ cmd, want string }{{"disable", "disabled"}, {"enable", "active"}} {
		if _, err := runCLI(t, "clients", step.cmd, "--data", data, cred.ClientID); err != nil {
			t.Fatal(err)
		}
		out, _ = runCLI(t, "clients", "list", "--data", data)
		if !strings.Contains(out, `"status": "`+step.want+`"`) {
			t.Fatalf("after %s: %s", step.cmd, out)
		}
	}
	out, err = runCLI(t, "clients", "rotate-secret", "--data", data, cred.ClientID)
	var rotated credentials
	if err != nil || json.Unmarshal([]byte(out), &rotated) != nil || rotated.ClientSecret == cred.ClientSecret || rotated.ClientID != cred.ClientID {
		t.Fatalf("rotate printed %q (%v)", out, err)
	}
}

func TestCLIErrors(t *testing.T) {
	data := migrated(t)
	cases := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"no command", nil, "no command", true},
		{"unknown command", []string{"frobnicate"}, "unknown command", true},
		{"create without scope", []string{"clients", "create", "--data", data, "--name", "x"}, "--scope", true},
		{"bad scope", []string{"clients", "create", "--data", data, "--name", "x", "--scope", "type=Bad Scope"}, "scope", false},
		{"office not an office", []string{"clients", "create", "--data", data, "--name", "x", "--scope", "type=record.notify", "--office", "5b607555-e83d-49f5-a681-d9a4776f70c5"}, "not a CRVS office", false},
		{"disable without id", []string{"clients", "disable", "--data", data}, "client id", true},
		{"disable unknown", []string{"clients", "disable", "--data", data, "00000000-0000-4000-8000-000000000000"}, "not found", false},
		{"bad log level", []string{"serve", "--data", data, "--log-level", "loud"}, "log level", true},
		{"body budget below the largest body", []string{"serve", "--data", data, "--body-budget", "4"}, "--body-budget", true},
		{"bad body wait", []string{"serve", "--data", data, "--body-wait", "soon"}, "--body-wait", true},
		{"bad trusted proxy", []string{"serve", "--data", data, "--trusted-proxies", "10.0.0.0/8, proxy.example"}, "proxy.example", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			var ue usageError
			if isUsage := errorsAs(err, &ue); isUsage != tc.usage {
				t.Fatalf("usage error = %v, want %v", isUsage, tc.usage)
			}
		})
	}
}

func errorsAs(err error, ue *usageError) bool {
	u, ok := err.(usageError)
	if ok {
		*ue = u
	}
	return ok
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for the server goroutine writing and
// the test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestReadmeTour runs the README's API tour, as printed, against `serve
// --demo`: only the address and the data folder are substituted.
func TestReadmeTour(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: the README tour needs it", tool)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var tour string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(m[1], "HUB=") {
			tour = m[1]
		}
	}
	if tour == "" {
		t.Fatal("README has no API tour block")
	}
	// The FHIR section's block continues the tour's shell.
	var fhir string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(m[1], "/fhir/Bundle/") {
			fhir = m[1]
		}
	}
	if fhir == "" {
		t.Fatal("README has no FHIR example block")
	}
	// The National ID section's block continues it (make run starts the MOSIP mock).
	var nid string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(m[1], "/fields/child.nid") {
			nid = m[1]
		}
	}
	if nid == "" {
		t.Fatal("README has no National ID example block")
	}
	work := t.TempDir()
	example, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "examples", "fhir-birth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(work, "docs", "examples"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "docs", "examples", "fhir-birth.json"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(work, "data")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	sb := &syncBuffer{b: &bytes.Buffer{}}
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--with-mocks", "--data", data, "--addr", addr, "--log-level", "warn"}, sb, &bytes.Buffer{})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	deadline := time.Now().Add(time.Minute) // generous: polling ends when ready
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timeout: hub not ready within a minute: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(sb.String(), "client_secret:") {
		t.Fatalf("serve --demo did not print the demo client: %q", sb.String())
	}
	if !strings.Contains(tour, "HUB=http://127.0.0.1:8080") {
		t.Fatal("the tour should target the default address")
	}
	const fhirMark, nidMark = "=== FHIR section ===", "=== National ID section ==="
	script := strings.ReplaceAll(tour, "HUB=http://127.0.0.1:8080", "HUB=http://"+addr) + "\necho '" + fhirMark + "'\n" + fhir +
		"\necho '" + nidMark + "'\n" + nid
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = work // the tour reads data/demo-client.json relative to the current folder
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tour failed: %v\n%s", err, res)
	}
	s, fhirOut, found := strings.Cut(string(res), fhirMark)
	if !found {
		t.Fatalf("the FHIR section did not run:\n%s", res)
	}
	fhirOut, nidOut, found := strings.Cut(fhirOut, nidMark)
	if !found {
		t.Fatalf("the National ID section did not run:\n%s", res)
	}
	for _, want := range []string{`"type":"REGISTER","status":"Requested"`, `"fieldId":"child.nid","value":"`, `{"results":[`} {
		if !strings.Contains(nidOut, want) {
			t.Errorf("National ID section output lacks %s\n%s", want, nidOut)
		}
	}
	if strings.Contains(nidOut, `"status":"Accepted"`) || strings.Contains(nidOut, `"code":"`) {
		t.Errorf("National ID section: REGISTER was accepted at once or an error came back:\n%s", nidOut)
	}
	// make run's demo birth went through the mock too
	deadline = time.Now().Add(time.Minute)
	for !strings.Contains(sb.String(), "MOSIP issued the VID") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(sb.String(), "MOSIP issued the VID") {
		t.Errorf("serve --demo --with-mocks did not report the demo birth's VID within a minute (timeout):\n%s", sb.String())
	}
	for _, want := range []string{"HTTP/1.1 201 Created", "Location: /api/events/events/", `{"resourceType":"OperationOutcome"`,
		"tracking id", `"resourceType":"Bundle"`, `"type":"document"`, `"Tendai"`, `"Phiri"`} {
		if !strings.Contains(fhirOut, want) {
			t.Errorf("FHIR section output lacks %s\n%s", want, fhirOut)
		}
	}
	if strings.Contains(fhirOut, `"severity":"error"`) || strings.Contains(fhirOut, `"severity":"fatal"`) || !regexp.MustCompile(`event [0-9a-f-]{36}\n`).MatchString(fhirOut) {
		t.Errorf("FHIR section hit an error:\n%s", fhirOut)
	}
	for _, want := range []string{`"fieldId":"child.name","value":{"firstname":"Ada","surname":"Banda"}`,
		`"status":"REGISTERED"`, `"registrationNumber":"`, `"locationType":"HEALTH_FACILITY"`, `"total":1`} {
		if !strings.Contains(s, want) {
			t.Errorf("tour output lacks %s\n%s", want, s)
		}
	}
	if strings.Contains(s, `"code":"`) {
		t.Errorf("tour hit an error answer:\n%s", s)
	}
}
