package durability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/testharness/hubtest"
)

const (
	notifyPath = "/api/events/events/notify"
	searchPath = "/api/events/events/search"
	eventsPath = "/api/events/events/"
)

// notifyScopes are what a hospital system needs to create, notify, read
// and search events.
var notifyScopes = []string{"type=record.create", "type=record.notify", "type=record.read", "type=record.search"}

// caller sends requests from any goroutine. (hubtest.Hub.Do stops the
// test on failure, which only the test's own goroutine may do.)
type caller struct {
	base  string
	token string
	hc    *http.Client
}

func newTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
}

func newCaller(base, token string) *caller {
	return &caller{base: base, token: token, hc: &http.Client{Timeout: 20 * time.Second, Transport: newTransport()}}
}

func (c *caller) close() { c.hc.CloseIdleConnections() }

// do sends one request and reads the whole answer. An error means no
// complete answer was read (the request may or may not have been served).
func (c *caller) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, nil, err
	}
	return res.StatusCode, b, nil
}

// notifyBody is a create+notify request for a birth with a complete
// declaration. i varies the child's name, date of birth and the mother's
// national id so that search benchmarks have selective fields.
func notifyBody(txid string, i int) []byte {
	b, err := json.Marshal(map[string]any{"transactionId": txid, "eventType": "birth",
		"createdAtLocation": hubtest.OfficeIbombo, "declaration": birthDeclaration(i)})
	if err != nil {
		panic(err)
	}
	return b
}

// birthDeclaration is the declaration notifyBody(_, i) sends.
func birthDeclaration(i int) map[string]any {
	decl := hubtest.BirthDeclaration(firstName(i), surname(i))
	decl["child.dob"] = childDOB(i)
	decl["mother.nid"] = motherNID(i)
	return decl
}

var (
	firstNames = []string{"Amara", "Bwalya", "Chanda", "Daliso", "Esther", "Febe", "Grace", "Hope", "Imani", "Jabali",
		"Kondwani", "Lusungu", "Mwila", "Naledi", "Ode", "Palesa", "Qiniso", "Rudo", "Sipho", "Thandiwe"}
	surPre = []string{"Ba", "Chi", "Da", "Ka", "Lu", "Mu", "Na", "Pe", "Si", "Zu"}
	surMid = []string{"la", "mbe", "nda", "ri", "wa", "ko", "nge", "si", "tu", "ye"}
	surEnd = []string{"", "ni", "la", "mo", "ka", "ti", "we", "so", "ra", "pa"}
)

func firstName(i int) string { return firstNames[i%len(firstNames)] }

// surname gives 1,000 distinct surnames, each used by one event in 1,000.
func surname(i int) string {
	k := (i / 7) % 1000
	return surPre[k%10] + surMid[(k/10)%10] + surEnd[k/100]
}

// childDOB spreads births over the 365 days of 2023.
func childDOB(i int) string {
	return time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%365).Format("2006-01-02")
}

// motherNID is unique per i.
func motherNID(i int) string { return fmt.Sprintf("%010d", 3000000000+i) }

// decodeEvent decodes an EventDocument answer that must carry an id and a
// tracking id.
func decodeEvent(b []byte) (*core.EventDocument, error) {
	var ev core.EventDocument
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("decode event %.200q: %w", b, err)
	}
	if ev.ID == "" || ev.TrackingID == "" {
		return nil, fmt.Errorf("event without id or tracking id: %.200q", b)
	}
	return &ev, nil
}

// checkNotified says what is wrong with an event answered for a
// create+notify with transaction id txid ("" if nothing): it must hold an
// accepted CREATE keyed "<txid>:create" and an accepted NOTIFY keyed txid.
func checkNotified(ev *core.EventDocument, txid string) string {
	var create, notify bool
	for _, a := range ev.Actions {
		if a.Status != core.StatusAccepted {
			continue
		}
		switch {
		case a.Type == core.ActionCreate && a.TransactionID == txid+":create":
			create = true
		case a.Type == core.ActionNotify && a.TransactionID == txid:
			notify = true
		}
	}
	switch {
	case !create:
		return fmt.Sprintf("event %s has no accepted CREATE with transactionId %s:create", ev.ID, txid)
	case !notify:
		return fmt.Sprintf("event %s has no accepted NOTIFY with transactionId %s", ev.ID, txid)
	}
	return ""
}

type searchAnswer struct {
	Results []struct {
		ID         string `json:"id"`
		TrackingID string `json:"trackingId"`
		Status     string `json:"status"`
	} `json:"results"`
	Total int `json:"total"`
}

// search posts a search query and decodes the answer.
func (c *caller) search(ctx context.Context, query string) (*searchAnswer, error) {
	status, b, err := c.do(ctx, "POST", searchPath, []byte(query))
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("search %s: %d %.300s", query, status, b)
	}
	var sa searchAnswer
	if err := json.Unmarshal(b, &sa); err != nil {
		return nil, fmt.Errorf("search %s: decode: %w", query, err)
	}
	return &sa, nil
}

// Queries every test uses: all births, and births stuck in CREATED (a
// create+notify is one transaction, so there must never be any).
const (
	queryAllBirths     = `{"query":{"type":"and","clauses":[{"eventType":"birth"}]},"limit":1000}`
	queryCountBirths   = `{"query":{"type":"and","clauses":[{"eventType":"birth"}]},"limit":1}`
	queryCreatedBirths = `{"query":{"type":"and","clauses":[{"eventType":"birth","status":"CREATED"}]},"limit":10}`
)

// parallel runs fn(i) for i in [0, n) on workers goroutines, all released
// at once, and returns the errors by index.
func parallel(n, workers int, fn func(i int) error) []error {
	errs := make([]error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// firstErrors reports up to max non-nil errors and returns how many there were.
func firstErrors(t testing.TB, what string, errs []error, max int) int {
	t.Helper()
	n := 0
	for i, err := range errs {
		if err == nil {
			continue
		}
		if n < max {
			t.Errorf("%s #%d: %v", what, i, err)
		}
		n++
	}
	if n > max {
		t.Errorf("%s: %d more errors", what, n-max)
	}
	return n
}

// moduleRoot finds the folder holding go.mod, walking up from the test's
// working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 20 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("go.mod not found above the test's working directory")
}
