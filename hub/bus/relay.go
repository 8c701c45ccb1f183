package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

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
	// at Interval and doubles).
	MaxBackoff time.Duration

	initOnce sync.Once
	wake     chan struct{}
}

func (r *Relay) init() {
	r.initOnce.Do(func() { r.wake = make(chan struct{}, 1) })
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
	backoff := interval
	for {
		full, err := r.once(ctx, log)
		wait := interval
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.Metrics.relayError()
			log.Warn("outbox relay failed; retrying", "error", err, "backoff", backoff)
			wait = backoff
			backoff = min(backoff*2, maxBackoff)
		default:
			backoff = interval
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
