package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/countryconfig"
	"github.com/crvshub/crvshub/core/store/sqlite"
)

// bearerIsID lets in any bearer token as the principal of that id, with
// the search scope.
type bearerIsID struct{ scopes []core.Scope }

func (a bearerIsID) Authenticate(_ context.Context, h string) (core.Principal, error) {
	id := strings.TrimPrefix(h, "Bearer ")
	if id == "" || id == h {
		return core.Principal{}, core.Errorf(core.KindUnauthenticated, "INVALID_TOKEN", "missing bearer token")
	}
	return core.Principal{ID: id, Type: core.UserTypeSystem, Scopes: a.scopes}, nil
}

// budgetServer is a real hub HTTP server (real store) on loopback with the
// given body limits.
func budgetServer(t *testing.T, limits BodyLimits) (*Server, *httptest.Server) {
	t.Helper()
	cc, err := countryconfig.Load("")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	scopes, err := core.ParseScopes([]string{"type=record.search"})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Deps{Service: &core.Service{Store: st, Config: cc}, Auth: bearerIsID{scopes}, Bodies: limits})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv
}

const searchPath = EventsPrefix + "/events/search"

// searchBody is a small, valid search.
const searchBody = `{"query":{"type":"and","clauses":[{"eventType":"birth"}]},"limit":1}`

// partial opens a connection, sends a search request's headers (with
// Content-Length cl, or chunked when cl < 0) and the first sent bytes of
// its body, and leaves it there.
func partial(t *testing.T, srv *httptest.Server, client string, cl, sent int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n", searchPath, client)
	if cl >= 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", cl, strings.Repeat(" ", sent))
	} else {
		fmt.Fprintf(&b, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", sent, strings.Repeat(" ", sent))
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	return conn
}

// answer reads the response on conn, waiting up to 30 s.
func answer(t *testing.T, conn net.Conn) (*http.Response, ErrorBody) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer on a held request (timed out after 30 s?): %v", err)
	}
	defer res.Body.Close()
	var eb ErrorBody
	_ = json.NewDecoder(res.Body).Decode(&eb)
	return res, eb
}

// waitFor polls cond for up to 30 s; a timeout fails with msg.
func waitFor(t *testing.T, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30 s waiting until %s", msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// legit sends a complete small search as client and answers the status.
func legit(t *testing.T, srv *httptest.Server, client string) int {
	t.Helper()
	req, err := http.NewRequest("POST", srv.URL+searchPath, strings.NewReader(searchBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+client)
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// TestBodyBudgetBoundsSlowBodies: many clients each holding a slow partial
// body reserve no more than the budget between them; the ones that find
// no budget wait briefly, then get 503 with Retry-After; a small complete
// request still goes through; closing the connections gives every byte
// back.
func TestBodyBudgetBoundsSlowBodies(t *testing.T) {
	const budget, each, wait = 1 << 20, 200 << 10, 300 * time.Millisecond
	s, srv := budgetServer(t, BodyLimits{Budget: budget, Wait: wait, ReadBase: time.Minute})

	var peak atomic.Int64
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() { // the reserved bytes, sampled all along
		defer watch.Done()
		for {
			if n := s.BodyBytesReserved(); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()

	const n = 12
	fits := budget / each // 5
	conns := make([]net.Conn, n)
	start := time.Now()
	for i := range conns {
		conns[i] = partial(t, srv, fmt.Sprintf("client-%d", i), each, 1024)
	}
	// n-fits requests are refused; the others hold their reservation
	refused := 0
	for _, conn := range conns {
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			continue // held: no answer while its body is incomplete
		}
		var eb ErrorBody
		_ = json.NewDecoder(res.Body).Decode(&eb)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || eb.Code != "BODY_BUDGET_EXHAUSTED" {
			t.Fatalf("over-budget request: %d %v %+v, want 503 BODY_BUDGET_EXHAUSTED with Retry-After", res.StatusCode, res.Header, eb)
		}
		refused++
	}
	if refused != n-fits {
		t.Fatalf("%d requests refused, want %d (budget %d, %d bytes each)", refused, n-fits, budget, each)
	}
	if waited := time.Since(start); waited < wait {
		t.Fatalf("refused after %v: should wait %v for budget first", waited, wait)
	}
	if got := s.BodyBytesReserved(); got != int64(fits*each) {
		t.Fatalf("reserved %d bytes while %d bodies of %d are held, want %d", got, fits, each, fits*each)
	}
	if status := legit(t, srv, "legit"); status != http.StatusOK {
		t.Fatalf("small search while the budget is nearly full: %d, want 200", status)
	}
	for _, conn := range conns {
		conn.Close()
	}
	waitFor(t, "every reserved byte is given back", func() bool { return s.BodyBytesReserved() == 0 })
	close(stop)
	watch.Wait()
	if p := peak.Load(); p > budget {
		t.Fatalf("peak reservation %d bytes, over the budget of %d", p, budget)
	}
	if status := legit(t, srv, "client-0"); status != http.StatusOK {
		t.Fatalf("search after the slow clients left: %d, want 200", status)
	}
}

// TestBodyBudgetChunkedReservesAsItGrows: a chunked body reserves its
// buffer as it grows, not the route's maximum up front.
func TestBodyBudgetChunkedReservesAsItGrows(t *testing.T) {
	s, srv := budgetServer(t, BodyLimits{ReadBase: time.Minute})
	partial(t, srv, "chunky", -1, 100<<10)
	waitFor(t, "the chunked body's first 100 KiB are reserved", func() bool { return s.BodyBytesReserved() >= 100<<10 })
	if got := s.BodyBytesReserved(); got > 256<<10 {
		t.Fatalf("a chunked body of 100 KiB so far reserved %d bytes; want at most 256 KiB (not the 1 MiB limit)", got)
	}
}

// TestBodyBudgetPerClient: one client may hold PerClient bodies at once;
// the next waits, then gets 503 with Retry-After; another client is not
// held up.
func TestBodyBudgetPerClient(t *testing.T) {
	s, srv := budgetServer(t, BodyLimits{PerClient: 2, Wait: 200 * time.Millisecond, ReadBase: time.Minute})
	partial(t, srv, "greedy", 1000, 10)
	partial(t, srv, "greedy", 1000, 10)
	waitFor(t, "both bodies are reserved", func() bool { return s.BodyBytesReserved() == 2000 })
	res, eb := answer(t, partial(t, srv, "greedy", 1000, 10))
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || eb.Code != "CLIENT_BODY_LIMIT" {
		t.Fatalf("third body of one client: %d %v %+v, want 503 CLIENT_BODY_LIMIT with Retry-After", res.StatusCode, res.Header, eb)
	}
	if status := legit(t, srv, "other"); status != http.StatusOK {
		t.Fatalf("another client's search: %d, want 200", status)
	}
}

// TestBodyReadDeadline: a body that does not arrive within the deadline
// for its size is answered 408, with a message saying it timed out, and
// its bytes are given back.
func TestBodyReadDeadline(t *testing.T) {
	for _, tc := range []struct {
		name string
		cl   int
	}{{"content-length", 10000}, {"chunked", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			s, srv := budgetServer(t, BodyLimits{ReadBase: 300 * time.Millisecond, ReadRate: 1 << 20})
			res, eb := answer(t, partial(t, srv, "slow", tc.cl, 10))
			if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(eb.Message, "Timed out") || eb.Code != "BODY_TIMEOUT" {
				t.Fatalf("slow body: %d %+v, want 408 BODY_TIMEOUT saying it timed out", res.StatusCode, eb)
			}
			waitFor(t, "the slow body's bytes are given back", func() bool { return s.BodyBytesReserved() == 0 })
			if status := legit(t, srv, "slow"); status != http.StatusOK {
				t.Fatalf("a complete search after the timeout: %d, want 200", status)
			}
		})
	}
}

// TestBodyBudgetCoversPartnerCallbacks: a partner callback (the MOSIP
// WebSub delivery) takes bodies from anyone, without a token; its bodies
// are read inside the same budget, keyed by the sender's address: a slow
// sender holding a large body reserves its bytes, the next one finds no
// budget and gets 503, and the callback still gets the whole body of a
// complete request.
func TestBodyBudgetCoversPartnerCallbacks(t *testing.T) {
	const budget, each, wait = 1 << 20, 700 << 10, 300 * time.Millisecond
	cc, err := countryconfig.Load("")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 4)
	callback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- len(b)
		w.WriteHeader(http.StatusOK)
	})
	s := New(Deps{Service: &core.Service{Config: cc}, Bodies: BodyLimits{Budget: budget, Wait: wait, ReadBase: time.Minute},
		PartnerRoutes: []PartnerRoute{{Method: "POST", Path: "/partners/callback", Handler: callback, MaxBody: 4 << 20}}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	send := func(cl, sent int) net.Conn {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := fmt.Fprintf(conn, "POST /partners/callback HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			cl, strings.Repeat(" ", sent)); err != nil {
			t.Fatal(err)
		}
		return conn
	}
	slow := send(each, 1)
	waitFor(t, "the slow callback body is reserved", func() bool { return s.BodyBytesReserved() == each })
	res, _ := answer(t, send(each, 1))
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a second large callback body past the budget: %d, want 503 with Retry-After", res.StatusCode)
	}
	if _, err := io.WriteString(slow, strings.Repeat(" ", each-1)); err != nil {
		t.Fatal(err)
	}
	if res, _ := answer(t, slow); res.StatusCode != http.StatusOK {
		t.Fatalf("the slow body once complete: %d, want 200", res.StatusCode)
	}
	if n := <-got; n != each {
		t.Fatalf("the callback read %d bytes, want %d", n, each)
	}
	waitFor(t, "every byte is given back", func() bool { return s.BodyBytesReserved() == 0 })
}

// TestBodyBudgetOneClientCannotTakeItAll: one client (one token) holding
// many large slow bodies may take at most half the budget, so another
// client's body still finds room; the greedy client's body past its share
// is a 503 with Retry-After at once.
func TestBodyBudgetOneClientCannotTakeItAll(t *testing.T) {
	const budget, each = 1 << 20, 300 << 10
	s, srv := budgetServer(t, BodyLimits{Budget: budget, Wait: 300 * time.Millisecond, ReadBase: time.Minute})
	partial(t, srv, "greedy", each, 1)
	waitFor(t, "the first greedy body is reserved", func() bool { return s.BodyBytesReserved() == each })
	for i := range 3 {
		res, eb := answer(t, partial(t, srv, "greedy", each, 1))
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || eb.Code != "CLIENT_BODY_BUDGET" {
			t.Fatalf("greedy body %d past half the budget: %d %+v, want 503 CLIENT_BODY_BUDGET with Retry-After", i+2, res.StatusCode, eb)
		}
	}
	req, err := http.NewRequest("POST", srv.URL+searchPath, strings.NewReader(searchBody+strings.Repeat(" ", each-len(searchBody))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer other")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("another client's %d-byte search while the greedy one holds its share: %d, want 200", each, res.StatusCode)
	}
}
