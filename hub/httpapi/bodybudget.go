package httpapi

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Body limit defaults (see BodyLimits).
const (
	// DefaultBodyBudget is how many bytes of request bodies the hub holds
	// at once, all requests together (128 MiB: sixteen FHIR bundles of
	// the largest size).
	DefaultBodyBudget = 128 << 20
	// DefaultBodyPerClient is how many requests of one client may read or
	// hold a body at once.
	DefaultBodyPerClient = 64
	// DefaultBodyWait is how long a request waits for budget or for one
	// of its client's slots before it is answered 503.
	DefaultBodyWait = 2 * time.Second
	// DefaultBodyReadBase and DefaultBodyReadRate make a body's read
	// deadline: the base, plus one second per ReadRate bytes (an 8 MiB
	// bundle: 5 s + 32 s). A slower sender is answered 408.
	DefaultBodyReadBase = 5 * time.Second
	DefaultBodyReadRate = 256 << 10
)

// BodyLimits bound the memory request bodies take. Every body (events API,
// FHIR) is read inside a byte budget shared by all requests: a body with a
// Content-Length reserves that many bytes before it is read, a chunked one
// reserves as it grows; one client's bodies together hold at most half the
// budget (a single one may take more).
// The reservation lasts until the handler has answered. A request that cannot get its bytes, or a slot among its
// client's, within Wait is answered 503 with Retry-After. Zero fields take
// the defaults.
type BodyLimits struct {
	Budget    int64         // bytes of bodies held at once; 0 = DefaultBodyBudget
	PerClient int           // requests of one client holding a body at once; 0 = DefaultBodyPerClient
	Wait      time.Duration // wait for budget or a client slot; 0 = DefaultBodyWait
	ReadBase  time.Duration // read deadline: ReadBase...; 0 = DefaultBodyReadBase
	ReadRate  int64         // ...plus one second per ReadRate bytes; 0 = DefaultBodyReadRate
}

func (l BodyLimits) withDefaults() BodyLimits {
	if l.Budget <= 0 {
		l.Budget = DefaultBodyBudget
	}
	if l.PerClient <= 0 {
		l.PerClient = DefaultBodyPerClient
	}
	if l.Wait <= 0 {
		l.Wait = DefaultBodyWait
	}
	if l.ReadBase <= 0 {
		l.ReadBase = DefaultBodyReadBase
	}
	if l.ReadRate <= 0 {
		l.ReadRate = DefaultBodyReadRate
	}
	return l
}

// readDeadline is how long a body of n bytes may take to arrive.
func (l BodyLimits) readDeadline(n int64) time.Duration {
	return l.ReadBase + time.Duration(float64(n)/float64(l.ReadRate)*float64(time.Second))
}

// bodyBudget holds the global byte budget and the per-client slots.
type bodyBudget struct {
	limits   BodyLimits
	bytes    *semaphore.Weighted
	reserved atomic.Int64

	mu      sync.Mutex
	clients map[string]*clientSlots
}

// clientSlots are one client's slots, kept while someone uses them, and
// the bytes its requests hold (under bodyBudget.mu).
type clientSlots struct {
	l     *limiter
	refs  int
	bytes int64
}

func newBodyBudget(l BodyLimits) *bodyBudget {
	l = l.withDefaults()
	return &bodyBudget{limits: l, bytes: semaphore.NewWeighted(l.Budget), clients: map[string]*clientSlots{}}
}

// Errors of the budget; the body reader turns them into answers.
var (
	errBodyBudget = errors.New("request body budget exhausted")
	errClientBusy = errors.New("too many requests of this client hold a body")
	// errClientBytes: the client's requests hold its share of the budget.
	errClientBytes = errors.New("this client's bodies hold its share of the budget")
)

// clientShare is the most bytes of bodies one client may hold at once
// when it holds more than one: half the budget, so that one token's slow
// bodies cannot hold the memory every other client needs. A client's only
// body may be as large as the budget (a FHIR bundle of the largest size
// under the smallest budget).
func (l BodyLimits) clientShare() int64 { return l.Budget / 2 }

// clientSlot takes one of key's slots, waiting up to the budget's wait. It
// answers the client's slots, a release function, or errClientBusy, or the
// context's error.
func (b *bodyBudget) clientSlot(ctx context.Context, key string) (*clientSlots, func(), error) {
	b.mu.Lock()
	cs := b.clients[key]
	if cs == nil {
		cs = &clientSlots{l: newLimiter(b.limits.PerClient, b.limits.Wait)}
		b.clients[key] = cs
	}
	cs.refs++
	b.mu.Unlock()
	unref := func() {
		b.mu.Lock()
		if cs.refs--; cs.refs == 0 {
			delete(b.clients, key)
		}
		b.mu.Unlock()
	}
	release, err := cs.l.acquire(ctx)
	if err != nil {
		unref()
		if errors.Is(err, errBusy) {
			err = errClientBusy
		}
		return nil, nil, err
	}
	return cs, func() { release(); unref() }, nil
}

// reservation is the bytes one request of a client holds.
type reservation struct {
	b      *bodyBudget
	client *clientSlots
	n      int64
}

// grow reserves n more bytes, waiting up to the budget's wait; it answers
// errBodyBudget, or the context's error if the client left.
func (r *reservation) grow(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	if n > r.b.limits.Budget {
		return errBodyBudget
	}
	r.b.mu.Lock()
	if others := r.client.bytes - r.n; others > 0 && r.client.bytes+n > r.b.limits.clientShare() {
		r.b.mu.Unlock()
		return errClientBytes
	}
	r.client.bytes += n
	r.b.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, r.b.limits.Wait)
	defer cancel()
	if err := r.b.bytes.Acquire(wctx, n); err != nil {
		r.b.mu.Lock()
		r.client.bytes -= n
		r.b.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errBodyBudget
	}
	r.n += n
	r.b.reserved.Add(n)
	return nil
}

// release gives every reserved byte back.
func (r *reservation) release() {
	if r.n > 0 {
		r.b.mu.Lock()
		r.client.bytes -= r.n
		r.b.mu.Unlock()
		r.b.reserved.Add(-r.n)
		r.b.bytes.Release(r.n)
		r.n = 0
	}
}

// BodyBytesReserved reports how many bytes of request bodies the hub holds
// (reserved in the body budget) right now: the crvshub_http_body_bytes_reserved gauge.
func (s *Server) BodyBytesReserved() int64 { return s.bodies.reserved.Load() }
