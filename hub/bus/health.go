package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// The bus watches itself: every HealthInterval a check asks whether
// messages can move (the connection is up, JetStream answers and, for the
// embedded server, its own health report is clean), and Health reports
// the last answer (readiness).
//
// The embedded JetStream does not recover from a write error by itself:
// on ENOSPC a stream keeps the error for good (every later publish goes
// unanswered: "nats: timeout") and on some paths the server shuts
// JetStream down. So after restartAfter failed checks in a row the
// watcher restarts the embedded server on the same port, store and token
// (the clients reconnect by themselves, the streams and durable consumers
// are read back from the store), again with a back-off while it keeps
// failing (the disk is still full). An external NATS is not restarted:
// the client reconnects to it.
//
// While healthy, the watcher also makes sure every subscribed topic still
// has its durable consumer (lost with an external server's state, say):
// a push subscription whose consumer is gone receives nothing and is
// never told, so the consumer is re-created and deliveries resume.
const (
	restartAfter      = 2                      // failed checks in a row before a restart
	maxRestartBackoff = 30 * time.Second       // between restarts while they do not help
	checkTimeout      = 2 * time.Second        // one JetStream round trip of a check
	reconnectWait     = 250 * time.Millisecond // between a client's reconnect attempts
)

// watcher is the health goroutine's state.
type watcher struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	state     atomic.Pointer[healthState]
	restarts  atomic.Int64
	recovered atomic.Pointer[func()]
	topics    sync.Map // topic -> struct{}: subscribed, consumer kept
}

type healthState struct {
	err   error
	since time.Time // when the current state began
}

// Health is nil when the bus moved its last check's message (see the
// package's health notes), else why not and since when.
func (b *Bus) Health() error {
	st := b.watch.state.Load()
	if st == nil || st.err == nil {
		return nil
	}
	return fmt.Errorf("bus unhealthy since %s: %w", st.since.UTC().Format(time.RFC3339), st.err)
}

// Restarts is how many times the embedded server was restarted.
func (b *Bus) Restarts() int64 { return b.watch.restarts.Load() }

// OnRecovered sets f to run each time the bus is healthy again after
// failing (the relay uses it to stop backing off).
func (b *Bus) OnRecovered(f func()) { b.watch.recovered.Store(&f) }

func (b *Bus) startWatch() {
	ctx, cancel := context.WithCancel(context.Background())
	b.watch.cancel, b.watch.done = cancel, make(chan struct{})
	b.watch.state.Store(&healthState{err: b.check(ctx), since: time.Now()})
	go b.watchLoop(ctx)
}

func (b *Bus) stopWatch() {
	b.watch.once.Do(func() {
		if b.watch.cancel != nil {
			b.watch.cancel()
			<-b.watch.done
		}
	})
}

func (b *Bus) watchLoop(ctx context.Context) {
	defer close(b.watch.done)
	t := time.NewTicker(b.o.HealthInterval)
	defer t.Stop()
	restartWait := &backoff.ExponentialBackOff{InitialInterval: b.o.HealthInterval, Multiplier: 2,
		RandomizationFactor: 0.2, MaxInterval: maxRestartBackoff}
	var failing int
	var nextRestart time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := b.check(ctx)
		if ctx.Err() != nil {
			return
		}
		b.setHealth(err)
		if err == nil {
			if failing > 0 {
				b.log.Warn("bus: healthy again", "failed_checks", failing, "restarts", b.Restarts())
				if f := b.watch.recovered.Load(); f != nil {
					(*f)()
				}
			}
			failing = 0
			restartWait.Reset()
			nextRestart = time.Time{}
			b.keepConsumers()
			continue
		}
		failing++
		if failing == 1 {
			b.log.Error("bus: messages cannot move", "error", err)
		}
		if b.storeDir == "" || failing < restartAfter || time.Now().Before(nextRestart) {
			continue
		}
		if rerr := b.restartServer(); rerr != nil {
			b.log.Error("bus: embedded nats restart failed; trying again", "error", rerr)
		} else {
			b.log.Warn("bus: embedded nats restarted", "reason", err, "url", b.shownURL)
		}
		nextRestart = time.Now().Add(restartWait.NextBackOff())
	}
}

// setHealth records a check's outcome, keeping since while the state
// (healthy or not) stays.
func (b *Bus) setHealth(err error) {
	old := b.watch.state.Load()
	since := time.Now()
	if old != nil && (old.err == nil) == (err == nil) {
		since = old.since
	}
	b.watch.state.Store(&healthState{err: err, since: since})
}

// check probes the bus once: nil when messages can move.
func (b *Bus) check(ctx context.Context) error {
	if ns := b.ns; ns != nil {
		if !ns.Running() {
			return errors.New("embedded nats server is not running")
		}
		if h := ns.Healthz(&server.HealthzOptions{}); h.Status != "ok" {
			msg := h.Error
			if msg == "" {
				msg = h.Status
			}
			return fmt.Errorf("embedded JetStream: %s", msg)
		}
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("not connected to NATS %s (%s)", b.displayURL(), b.nc.Status())
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if _, err := b.js.AccountInfo(nats.Context(ctx)); err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	return nil
}

// restartServer replaces the embedded server with a new one on the same
// port, store and token.
func (b *Bus) restartServer() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return nil
	}
	b.ns.Shutdown()
	b.ns.WaitForShutdown()
	b.watch.restarts.Add(1)
	b.streams.Clear() // asked again: a stream may not have come back
	ns, err := b.newServer(b.port)
	if err != nil {
		return err // b.ns stays the stopped server: the checks fail, the next restart tries again
	}
	b.ns = ns
	return nil
}

// keepConsumers re-creates the durable consumer of every subscribed topic
// that lost it.
func (b *Bus) keepConsumers() {
	b.watch.topics.Range(func(k, _ any) bool {
		topic := k.(string)
		_, err := b.js.ConsumerInfo(topic, group, nats.MaxWait(checkTimeout))
		switch {
		case err == nil:
			return true
		case errors.Is(err, nats.ErrStreamNotFound):
			b.streams.Delete(topic)
		case !errors.Is(err, nats.ErrConsumerNotFound):
			return true // the next check will tell
		}
		if cerr := b.ensureConsumer(topic); cerr != nil {
			b.log.Error("bus: cannot re-create a lost consumer", "topic", topic, "error", cerr)
		} else {
			b.log.Warn("bus: consumer was lost; re-created", "topic", topic, "cause", err)
		}
		return true
	})
}

// EmbeddedServer is the embedded NATS server now running (nil with an
// external one), for diagnostics and tests; a restart replaces it.
func (b *Bus) EmbeddedServer() *server.Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.storeDir == "" {
		return nil
	}
	return b.ns
}
