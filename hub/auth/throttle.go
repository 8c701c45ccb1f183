package auth

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Throttle defaults (see Throttle).
const (
	DefaultPairFree   = 5
	DefaultSourceFree = 20
	DefaultLockBase   = time.Second
	DefaultLockMax    = 15 * time.Minute
	// DefaultForget is how long after its last failure a record is dropped.
	DefaultForget = time.Hour
	// maxThrottleEntries bounds each table; beyond it idle records go first.
	maxThrottleEntries = 100_000
)

// Throttle slows down secret guessing at the token endpoint. It counts
// failed client authentications twice:
//
//   - per (client id, source address): after PairFree failures in a row
//     the pair is locked out for LockBase, doubling with every further
//     failure up to LockMax. A success resets it.
//   - per source address (an IPv6 one by its /64, see sourceKey),
//     whatever the client id: after SourceFree
//     failures the source is locked out the same way.
//
// Keying the lockout on the pair, not on the client id alone, means an
// attacker who guesses a real client's id from its own address locks out
// only itself: the real client, from its own address, still gets tokens.
// The per-source count stops one address trying many ids. A client behind
// the same address as an attacker (a shared NAT) is refused with it while
// the source is locked. Unknown client ids are counted exactly as known
// ones, so the throttle tells nothing about which ids exist. A locked-out
// request is refused before the secret is compared (no bcrypt work).
// Records are forgotten Forget after their last failure.
type Throttle struct {
	PairFree, SourceFree int              // 0 = DefaultPairFree, DefaultSourceFree
	LockBase, LockMax    time.Duration    // 0 = DefaultLockBase, DefaultLockMax
	Forget               time.Duration    // 0 = DefaultForget
	Now                  func() time.Time // nil = time.Now
	Log                  *slog.Logger     // lockouts are logged at warn; nil = not logged

	mu      sync.Mutex
	pairs   map[[32]byte]*failures
	sources map[string]*failures

	failed, refusedPair, refusedSource atomic.Int64
}

// failures is the record of one key.
type failures struct {
	count    int
	last     time.Time
	until    time.Time // locked out until
	inflight int       // attempts let in and not yet ended
}

// ThrottledError is what Clients.Authenticate answers for a locked-out
// request: retry after RetryAfter.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed authentications; retry in %s", e.RetryAfter.Round(time.Second))
}

// ThrottleStats are the throttle's counters since start.
type ThrottleStats struct {
	Failures      int64 // failed client authentications
	RefusedClient int64 // requests refused because their (client id, source) was locked out
	RefusedSource int64 // requests refused because their source was locked out
}

// Stats reports the counters.
func (t *Throttle) Stats() ThrottleStats {
	return ThrottleStats{Failures: t.failed.Load(), RefusedClient: t.refusedPair.Load(), RefusedSource: t.refusedSource.Load()}
}

func (t *Throttle) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// sourceKey is what failures are counted under for a source address: an
// IPv4 address (also written IPv4-mapped) as itself, an IPv6 address by
// its /64, since one host commonly holds a whole /64 (privacy addresses,
// a customer's delegated prefix) and could otherwise guess from ever new
// addresses. Anything else is taken as it is.
func sourceKey(source string) string {
	a, err := netip.ParseAddr(source)
	if err != nil {
		return source
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return source
	}
	return p.String()
}

func pairKey(clientID, source string) [32]byte {
	return sha256.Sum256([]byte(source + "\x00" + clientID))
}

// Check answers how long the request must wait: 0 when it may go ahead.
// An attempt let in counts against its pair and source until it ends
// (Failure, Success or Abandon: exactly one must follow): attempts in
// progress are taken as failures, so that guesses sent side by side
// cannot all pass before the first failures are recorded, nor a burst
// slip in each time a lockout ends (then one attempt at a time goes).
func (t *Throttle) Check(clientID, source string) time.Duration {
	now := t.now()
	source = sourceKey(source)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	pk := pairKey(clientID, source)
	sf, pf := t.sources[source], t.pairs[pk]
	if sf != nil && now.Before(sf.until) {
		t.refusedSource.Add(1)
		return sf.until.Sub(now)
	}
	if pf != nil && now.Before(pf.until) {
		t.refusedPair.Add(1)
		return pf.until.Sub(now)
	}
	base := orDefault(t.LockBase, DefaultLockBase)
	if busy(sf, orDefault(t.SourceFree, DefaultSourceFree)) {
		t.refusedSource.Add(1)
		return base
	}
	if busy(pf, orDefault(t.PairFree, DefaultPairFree)) {
		t.refusedPair.Add(1)
		return base
	}
	forget := orDefault(t.Forget, DefaultForget)
	entry(t.sources, source, now, forget).inflight++
	entry(t.pairs, pk, now, forget).inflight++
	return 0
}

// busy reports whether the attempts in progress of a record, counted as
// failures, use up what it may still try: the failures left before a
// lockout, or one attempt once it has been locked out.
func busy(f *failures, free int) bool {
	return f != nil && f.inflight > 0 && f.inflight >= max(free-f.count, 1)
}

// end ends one attempt in progress of clientID from source (a source
// already turned into its key).
func (t *Throttle) end(clientID, source string) {
	for _, f := range []*failures{t.sources[source], t.pairs[pairKey(clientID, source)]} {
		if f != nil && f.inflight > 0 {
			f.inflight--
		}
	}
}

// Abandon ends an attempt Check let in that neither failed nor succeeded
// (a store failure).
func (t *Throttle) Abandon(clientID, source string) {
	source = sourceKey(source)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.end(clientID, source)
}

func (t *Throttle) init() {
	if t.pairs == nil {
		t.pairs, t.sources = map[[32]byte]*failures{}, map[string]*failures{}
	}
}

// Failure records a failed authentication of clientID from source.
func (t *Throttle) Failure(clientID, source string) {
	now := t.now()
	source = sourceKey(source)
	t.failed.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	t.end(clientID, source)
	base, max, forget := orDefault(t.LockBase, DefaultLockBase), orDefault(t.LockMax, DefaultLockMax), orDefault(t.Forget, DefaultForget)
	if lock := fail(t.pairs, pairKey(clientID, source), now, orDefault(t.PairFree, DefaultPairFree), base, max, forget); lock > 0 && t.Log != nil {
		t.Log.Warn("token requests of a client from a source locked out after failed authentications",
			"clientId", clip(clientID), "source", source, "lockout", lock.String())
	}
	if lock := fail(t.sources, source, now, orDefault(t.SourceFree, DefaultSourceFree), base, max, forget); lock > 0 && t.Log != nil {
		t.Log.Warn("token requests from a source locked out after failed authentications", "source", source, "lockout", lock.String())
	}
}

// Success forgets the failures of clientID from source.
func (t *Throttle) Success(clientID, source string) {
	source = sourceKey(source)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.end(clientID, source)
	delete(t.pairs, pairKey(clientID, source))
}

// fail counts one failure of key in table and answers the lockout it
// starts (0 for none): after free failures, base doubled per further
// failure, at most max. A record idle for forget starts again from zero.
func fail[K comparable](table map[K]*failures, key K, now time.Time, free int, base, max, forget time.Duration) time.Duration {
	f := entry(table, key, now, forget)
	f.count++
	f.last = now
	if f.count < free {
		return 0
	}
	lock := max
	if n := f.count - free; n < 40 {
		lock = min(base<<n, max)
	}
	f.until = now.Add(lock)
	return lock
}

// entry answers key's record in table, a new one if it has none or its
// record was idle for forget (attempts in progress carry over); a full
// table is pruned first.
func entry[K comparable](table map[K]*failures, key K, now time.Time, forget time.Duration) *failures {
	f := table[key]
	if f != nil && now.Sub(f.last) <= forget {
		return f
	}
	if f == nil && len(table) >= maxThrottleEntries {
		prune(table, now, forget)
	}
	n := &failures{last: now}
	if f != nil {
		n.inflight = f.inflight
	}
	table[key] = n
	return n
}

// prune drops the records idle for forget; if the table is still full,
// it drops records not locked out, then any (map order is random), so an
// attacker filling it cannot grow memory without bound.
func prune[K comparable](table map[K]*failures, now time.Time, forget time.Duration) {
	for k, f := range table {
		if now.Sub(f.last) > forget {
			delete(table, k)
		}
	}
	for k, f := range table {
		if len(table) < maxThrottleEntries*9/10 {
			return
		}
		if !now.Before(f.until) {
			delete(table, k)
		}
	}
	for k := range table {
		if len(table) < maxThrottleEntries*9/10 {
			return
		}
		delete(table, k)
	}
}

// clip shortens an echoed client id for the log.
func clip(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%s...(%d bytes)", s[:64], len(s))
	}
	return s
}
