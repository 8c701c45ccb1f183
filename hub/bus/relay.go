package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"

	"github.com/crvshub/crvshub/core"
)

// Relay moves stored outbox messages to the bus after commit (the
// transactional outbox, DESIGN §6). Messages are published in Seq order
// and deleted only after the publish was acknowledged; a crash in between
// republishes the same id, which JetStream's duplicate window drops.
type Relay struct {
	Outbox    core.Outbox
	Publisher message.Publisher
	Log       *slog.Logger
	Interval  time.Duration // poll interval, default 200ms
	Batch     int           // default 256
	Metrics   *Metrics      // optional

	// MaxBackoff bounds the back-off after errors (default 30 s; it starts
	// at Interval and doubles; Resume ends it early).
	MaxBackoff time.Duration

	initOnce sync.Once
	wake     chan struct{}
	resume   chan struct{}
	// failing is the current run of failed rounds (nil: the last round
	// succeeded)
	failing atomic.Pointer[relayFailure]
}

type relayFailure struct {
	err   error
	since time.Time
}

func (r *Relay) init() {
	r.initOnce.Do(func() { r.wake, r.resume = make(chan struct{}, 1), make(chan struct{}, 1) })
}

// Resume wakes the loop now even while it backs off after errors (the bus
// calls it when it is healthy again). It never blocks.
func (r *Relay) Resume() {
	r.init()
	select {
	case r.resume <- struct{}{}:
	default:
	}
}

// Health is nil unless the relay's last round failed: then the error and
// since when rounds fail.
func (r *Relay) Health() error {
	f := r.failing.Load()
	if f == nil {
		return nil
	}
	return fmt.Errorf("outbox relay failing since %s: %w", f.since.UTC().Format(time.RFC3339), f.err)
}

// Lag is the age of the oldest message still in the outbox (0 when it is
// empty): how far behind the bus is.
func (r *Relay) Lag(ctx context.Context) (time.Duration, error) {
	msgs, err := r.Outbox.PendingOutbox(ctx, 1)
	if err != nil {
		return 0, fmt.Errorf("outbox lag: %w", err)
	}
	if len(msgs) == 0 || msgs[0].CreatedAt.IsZero() {
		return 0, nil
	}
	return max(time.Since(msgs[0].CreatedAt), 0), nil
}

// Poke wakes the loop now (called after a commit that enqueued). It never
// blocks and is safe from any goroutine.
func (r *Relay) Poke() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends, then returns nil. Errors are logged and
// retried with bounded exponential back-off; nothing is dropped or
// reordered.
func (r *Relay) Run(ctx context.Context) error {
	r.init()
	interval := r.Interval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	maxBackoff := r.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 30 * time.Second
	}
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	// after errors: Interval, doubling up to MaxBackoff, no jitter (one
	// relay per hub)
	bo := &backoff.ExponentialBackOff{InitialInterval: interval, Multiplier: 2, MaxInterval: maxBackoff}
	for {
		full, err := r.once(ctx, log)
		wait := interval
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.Metrics.relayError()
			wait = bo.NextBackOff()
			log.Warn("outbox relay failed; retrying", "error", err, "backoff", wait)
			if f := r.failing.Load(); f != nil {
				r.failing.Store(&relayFailure{err: err, since: f.since})
			} else {
				r.failing.Store(&relayFailure{err: err, since: time.Now()})
			}
		default:
			bo.Reset()
			r.failing.Store(nil)
			if full {
				wait = 0 // more are waiting
			}
		}
		if wait == 0 {
			continue
		}
		wake := r.wake
		if err != nil {
			wake = nil // keep backing off a failing bus, even when poked
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
			t.Stop()
		case <-r.resume:
			t.Stop()
			bo.Reset()
		case <-t.C:
		}
	}
}

// once relays one batch; full reports whether the batch was full.
func (r *Relay) once(ctx context.Context, log *slog.Logger) (full bool, err error) {
	batch := r.Batch
	if batch <= 0 {
		batch = 256
	}
	msgs, err := r.Outbox.PendingOutbox(ctx, batch)
	if err != nil {
		return false, fmt.Errorf("pending outbox: %w", err)
	}
	if len(msgs) == 0 {
		return false, nil
	}
	seqs := make([]int64, 0, len(msgs))
	var pubErr error
	for _, om := range msgs {
		m := message.NewMessage(om.ID, []byte(om.Payload))
		for k, v := range om.Metadata {
			m.Metadata.Set(k, v)
		}
		if err := r.Publisher.Publish(om.Topic, m); err != nil {
			// Stop here: later messages wait so the order holds.
			pubErr = fmt.Errorf("publish %s (topic %s): %w", om.ID, om.Topic, err)
			break
		}
		seqs = append(seqs, om.Seq)
	}
	if len(seqs) > 0 {
		if err := r.Outbox.DeleteOutbox(ctx, seqs...); err != nil {
			// Published but still stored: the next round republishes them
			// with the same ids, and the server's duplicate window drops them.
			return false, fmt.Errorf("delete outbox: %w", err)
		}
		r.Metrics.addRelayed(len(seqs))
		log.Debug("outbox relayed", "count", len(seqs))
	}
	if pubErr != nil {
		return false, pubErr
	}
	return len(msgs) == batch, nil
}
