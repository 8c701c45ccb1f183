package httpapi_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crvshub/crvshub/hub/httpapi"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPI: the document served at /api/events/openapi.json is valid
// OpenAPI 3 JSON describing exactly the routes the Gin engine serves.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	h := start(t)
	res := h.Do("GET", "/api/events/openapi.json", "", nil)
	wantOK(t, res)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Info       map[string]any                        `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !regexp.MustCompile(`^3\.\d+\.\d+$`).MatchString(doc.OpenAPI) {
		t.Errorf("openapi %q, want 3.x.y", doc.OpenAPI)
	}
	if doc.Info["title"] == nil || doc.Info["version"] == nil {
		t.Errorf("info %v lacks title or version", doc.Info)
	}

	// The engine's routes and the document's operations are the same set.
	served := map[string]bool{}
	for _, r := range h.App.HTTP.Engine().Routes() {
		served[strings.ToLower(r.Method)+" "+httpapi.OpenAPIPath(r.Path)] = true
	}
	documented := map[string]bool{}
	opIDs := map[string]string{}
	paramRe := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range doc.Paths {
		if strings.Contains(path, ":") {
			t.Errorf("path %s keeps a Gin parameter", path)
		}
		for key, raw := range item {
			if !slices.Contains(httpMethods, key) {
				if key != "parameters" && key != "summary" && key != "description" {
					t.Errorf("%s: unexpected key %q", path, key)
				}
				continue
			}
			documented[key+" "+path] = true
			var op struct {
				Security    []map[string][]string      `json:"security"`
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
				Parameters  []struct {
					Name     string `json:"name"`
					In       string `json:"in"`
					Required bool   `json:"required"`
				} `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Errorf("%s %s: %v", key, path, err)
				continue
			}
			if _, ok := op.Responses["200"]; !ok {
				t.Errorf("%s %s has no 200 response", key, path)
			}
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", key, path)
			} else if prev, dup := opIDs[op.OperationID]; dup {
				t.Errorf("operationId %s of %s %s is also %s", op.OperationID, key, path, prev)
			}
			opIDs[op.OperationID] = key + " " + path
			// The documented security is what the route does: probe it
			// without a token.
			probe := paramRe.ReplaceAllStringFunc(path, func(p string) string {
				return map[string]string{"{eventId}": "00000000-0000-4000-8000-000000000000", "{trackingId}": "ZZZZZZZ", "{fieldId}": "child.dob"}[p]
			})
			var body any
			if key == "post" {
				body = map[string]any{}
			}
			got := h.Do(strings.ToUpper(key), probe, "", body).Status
			if secured := len(op.Security) > 0; secured != (got == 401) {
				t.Errorf("%s %s: documented security %v, but without a token it answers %d", key, path, op.Security, got)
			}
			if _, ok := op.Responses["401"]; len(op.Security) > 0 && !ok {
				t.Errorf("%s %s needs a token but documents no 401", key, path)
			}
			for _, m := range paramRe.FindAllStringSubmatch(path, -1) {
				ok := false
				for _, p := range op.Parameters {
					ok = ok || (p.Name == m[1] && p.In == "path" && p.Required)
				}
				if !ok {
					t.Errorf("%s %s does not declare the path parameter %s", key, path, m[1])
				}
			}
		}
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("route %s is served but not documented", op)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("operation %s is documented but not served", op)
		}
	}
	if len(served) < 20 {
		t.Errorf("only %d routes served", len(served))
	}

	// Every $ref resolves to a component schema.
	var whole any
	if err := json.Unmarshal(res.Body, &whole); err != nil {
		t.Fatal(err)
	}
	refs := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "$ref" {
					refs++
					s, _ := c.(string)
					name, ok := strings.CutPrefix(s, "#/components/schemas/")
					if _, exists := doc.Components.Schemas[name]; !ok || !exists {
						t.Errorf("%s: $ref %q does not resolve", at, s)
					}
					continue
				}
				walk(c, at+"/"+k)
			}
		case []any:
			for _, c := range x {
				walk(c, at+"[]")
			}
		}
	}
	walk(whole, "#")
	if refs == 0 {
		t.Error("no $ref found: the walk is broken")
	}

	// The route list is pinned in a golden file: changing the public API
	// is deliberate (go test ./hub/httpapi -run TestOpenAPI -update).
	var lines []string
	for op := range served {
		m, p, _ := strings.Cut(op, " ")
		lines = append(lines, strings.ToUpper(m)+" "+p)
	}
	slices.Sort(lines)
	golden(t, "routes.golden", []byte(strings.Join(lines, "\n")+"\n"))
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (run with -update if the change is intended):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
