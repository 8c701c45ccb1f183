package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// subscriber is the JetStream subscriber behind Bus.Subscriber.
//
// It replaces watermill-nats' Subscriber (v2.1.3), which on shutdown
// "discards" every message it has taken but not finished: neither acked
// nor nacked, and a handler's nack racing the close is dropped. JetStream
// then hands such a message out again only after the consumer's AckWait
// (minutes in production), so a graceful restart delayed work. This one
// records every delivery (the raw *nats.Msg, one entry per delivery, so
// two deliveries of one message never clash) until it is settled, and
// settles each exactly once: Ack after the handler's ack, Nak (after
// NakDelay) after its nack, and Nak without delay for every delivery still
// open when the hub shuts down (the subscription's context ends or Close
// runs), whether or not a handler had it. Settling once also means no ack
// can follow a shutdown Nak.
//
// The NATS callback never blocks: each delivery gets its own goroutine
// that hands the message to the router and waits for its outcome. How
// many run at once is bounded by the consumer's MaxAckPending
// (SubscribersCount), so no message waits in a client buffer with its
// AckWait clock running behind a busy one.
type subscriber struct {
	b       *Bus
	unm     wmnats.Unmarshaler
	closing chan struct{} // closed by Close
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
	// deliveries not yet settled, with their Watermill message once
	// decoded (nil before)
	open map[*nats.Msg]*message.Message
}

func newSubscriber(b *Bus) *subscriber {
	return &subscriber{b: b, unm: &wmnats.NATSMarshaler{}, closing: make(chan struct{}), open: map[*nats.Msg]*message.Message{}}
}

// Subscribe binds a queue subscription to the topic's durable consumer.
// The channel is closed once ctx ends or Close runs and every delivery of
// this subscription is settled (or Close gave up waiting).
//
// A bus that cannot move messages now (JetStream down, being restarted by
// the health watcher) does not fail the subscription: the consumer is
// asked for again with a back-off until it works, ctx ends or Close runs,
// so a router started during an outage starts once the bus is back.
func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := validTopic(topic); err != nil {
		return nil, err
	}
	wait := &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, Multiplier: 2,
		RandomizationFactor: 0.2, MaxInterval: 5 * time.Second}
	for {
		err := s.b.ensureConsumer(topic)
		if err == nil {
			break
		}
		d := wait.NextBackOff()
		s.b.log.Warn("bus: subscribe failed; retrying", "topic", topic, "error", err, "wait", d)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bus: subscribe %s: %w (gave up: %w)", topic, err, ctx.Err())
		case <-s.closing:
			return nil, fmt.Errorf("bus: subscribe %s: %w (subscriber closed)", topic, err)
		case <-time.After(d):
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("bus: subscribe %s: subscriber closed", topic)
	}
	s.wg.Add(1) // this subscription's own goroutine, below
	s.mu.Unlock()

	out := make(chan *message.Message)
	var msgs sync.WaitGroup // this subscription's deliveries
	sub, err := s.b.js.QueueSubscribe(topic, group, func(m *nats.Msg) { s.deliver(ctx, topic, m, out, &msgs) },
		nats.Durable(group), nats.ManualAck())
	if err != nil {
		s.wg.Done()
		return nil, fmt.Errorf("bus: subscribe %s: %w", topic, err)
	}
	s.b.watch.topics.Store(topic, struct{}{}) // its consumer is kept (health.go)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		// Drain, not Unsubscribe: messages the server already sent pass
		// through deliver (which now Naks them) instead of being dropped
		// from the client's buffer and left to AckWait.
		closed := sub.StatusChanged(nats.SubscriptionClosed)
		if err := sub.Drain(); err != nil {
			s.b.log.Warn("bus: drain subscription", "topic", topic, "error", err)
		} else {
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				s.b.log.Warn("bus: drain subscription timed out", "topic", topic)
			}
		}
		msgs.Wait()
		close(out)
	}()
	return out, nil
}

// shuttingDown reports whether deliveries of ctx's subscription must go
// back to JetStream now.
func (s *subscriber) shuttingDown(ctx context.Context) bool {
	select {
	case <-s.closing:
		return true
	default:
		return ctx.Err() != nil
	}
}

// deliver is the NATS callback: it records m and hands it to the router
// in its own goroutine.
func (s *subscriber) deliver(ctx context.Context, topic string, m *nats.Msg, out chan<- *message.Message, msgs *sync.WaitGroup) {
	s.mu.Lock()
	if s.closed || ctx.Err() != nil {
		s.mu.Unlock()
		s.nak(m, 0, "shutting down; not handed out")
		return
	}
	s.open[m] = nil
	s.wg.Add(1)
	msgs.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer msgs.Done()
		s.handOut(ctx, topic, m, out)
	}()
}

// handOut gives the message to the router and settles it by the outcome.
func (s *subscriber) handOut(ctx context.Context, topic string, m *nats.Msg, out chan<- *message.Message) {
	msg, err := s.unm.Unmarshal(m)
	if err != nil {
		// Redelivering it would fail the same way, every AckWait, holding
		// one of the consumer's MaxAckPending slots for ever (enough of
		// them stop the partner's queue): it is terminated, loudly.
		s.forget(m)
		if terr := m.Term(); terr != nil {
			s.b.log.Error("bus: cannot terminate an undecodable message", "topic", topic, "error", terr)
		}
		s.b.log.Error("bus: undecodable message terminated (not handled)", "topic", topic, "subject", m.Subject,
			"bytes", len(m.Data), "error", err)
		return
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel() // the handler's context ends with its delivery
	msg.SetContext(mctx)
	s.mu.Lock()
	_, ok := s.open[m]
	if ok {
		s.open[m] = msg
	}
	s.mu.Unlock()
	if !ok || s.shuttingDown(ctx) {
		// Close already returned it, or is about to: no handler gets it
		s.settle(m, false, 0, "shutting down; not handed out")
		return
	}
	select {
	case out <- msg:
	case <-ctx.Done():
		s.settle(m, false, 0, "shutting down; not handed out")
		return
	case <-s.closing:
		s.settle(m, false, 0, "shutting down; not handed out")
		return
	}
	timeout := time.NewTimer(s.b.o.AckWait)
	defer timeout.Stop()
	select {
	case <-msg.Acked():
		s.settle(m, true, 0, "")
	case <-msg.Nacked():
		if s.shuttingDown(ctx) {
			// the handler gave up because the hub stops: back at once
			s.settle(m, false, 0, "handler stopped by shutdown")
		} else {
			s.settle(m, false, s.b.o.NakDelay, "")
		}
	case <-s.closing:
		// Close runs after the router's: a handler still holding the
		// message will not finish it. An ack that made it wins.
		s.settle(m, acked(msg), 0, "unfinished at close")
	case <-timeout.C:
		// JetStream has handed it out again by now; a late ack or nack
		// is not waited for (watermill-nats' behaviour).
		s.forget(m)
		s.b.log.Warn("bus: no ack or nack within AckWait", "topic", topic, "message_id", msg.UUID)
	}
}

// take removes m from the open deliveries; false when already settled.
func (s *subscriber) take(m *nats.Msg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.open[m]; !ok {
		return false
	}
	delete(s.open, m)
	return true
}

func (s *subscriber) forget(m *nats.Msg) { s.take(m) }

// settle acks or naks m unless it was settled already (a delivery is
// settled once: never an ack after a nak or the reverse).
func (s *subscriber) settle(m *nats.Msg, ack bool, delay time.Duration, why string) {
	if !s.take(m) {
		return
	}
	if ack {
		if err := m.AckSync(); err != nil {
			s.b.log.Error("bus: cannot send ack", "subject", m.Subject, "error", err)
		}
		return
	}
	s.nak(m, delay, why)
}

// nak returns m to JetStream: after delay, or, with delay 0 (shutdown),
// at once. The shutdown form is a NAK with a token delay sent as a
// request: a plain NAK only queues the message for redelivery in the
// server's memory, so an embedded server stopping right after would
// forget it and restore the delivery with its old timestamp (back only
// after AckWait); a NAK with a delay rewrites the stored delivery time,
// and waiting for the reply means the server processed it before the
// connection (and the embedded server) closes.
func (s *subscriber) nak(m *nats.Msg, delay time.Duration, why string) {
	var err error
	if delay > 0 {
		err = m.NakWithDelay(delay)
	} else {
		err = m.NakWithDelay(time.Millisecond, nats.AckWait(nakReplyWait))
	}
	switch {
	case err != nil:
		s.b.log.Error("bus: cannot send nak", "subject", m.Subject, "error", err)
	case why != "":
		s.b.log.Info("bus: message returned to the queue", "subject", m.Subject, "reason", why)
	}
}

// nakReplyWait bounds waiting for the server's reply to a shutdown NAK.
const nakReplyWait = 5 * time.Second

// returnOrphans makes every delivery a previous process left unsettled
// redeliverable at once: it resets each consumer with deliveries pending
// back to its ack floor (JetStream's consumer reset; acked messages are
// gone from a work-queue stream, so only unacknowledged ones come again).
//
// Only for the embedded server, just started and reached by nobody else
// (loopback, per-run token): every pending delivery is then an orphan.
// Close naks what the subscriber holds, but a delivery JetStream has
// counted (NumAckPending) and still queued inside the server when the
// subscription's UNSUB arrives is dropped by the server with its fresh
// AckWait clock (a push consumer does not requeue a message it failed to
// deliver), and after a crash nothing was nacked at all: both would
// otherwise wait the whole AckWait. A failure here is logged, not fatal:
// those messages still come back after AckWait.
func (b *Bus) returnOrphans(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	js, err := jetstream.New(b.nc)
	if err != nil {
		b.log.Warn("bus: cannot return deliveries left by the last run", "error", err)
		return
	}
	names := js.StreamNames(ctx)
	for topic := range names.Name() {
		info, err := b.js.ConsumerInfo(topic, group)
		if errors.Is(err, nats.ErrConsumerNotFound) || (err == nil && info.NumAckPending == 0) {
			continue
		}
		if err == nil {
			_, err = js.ResetConsumer(ctx, topic, group)
		}
		if err != nil {
			b.log.Warn("bus: cannot return deliveries left by the last run; they come back after AckWait",
				"topic", topic, "error", err)
			continue
		}
		b.log.Info("bus: deliveries left unsettled by the last run returned to the queue", "topic", topic,
			"deliveries", info.NumAckPending)
	}
	if err := names.Err(); err != nil {
		b.log.Warn("bus: cannot list streams to return deliveries left by the last run", "error", err)
	}
}

// SubscribeInitialize provisions the topic's stream and consumer.
func (s *subscriber) SubscribeInitialize(topic string) error { return s.b.ensureConsumer(topic) }

// Close returns every delivery not yet settled to JetStream (Nak, no
// delay), drains the subscriptions and waits (up to closeWait) for their
// goroutines. Call it after the router's Close, which lets handlers
// finish first.
func (s *subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	open := make(map[*nats.Msg]*message.Message, len(s.open))
	for m, msg := range s.open {
		open[m] = msg
	}
	s.mu.Unlock()
	for m, msg := range open {
		s.settle(m, acked(msg), 0, "unfinished at close")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-time.After(closeWait):
		err = errors.New("bus: subscriber close: deliveries still running")
	}
	// Naks after NakDelay are published without waiting for a reply:
	// make sure they reach the server before the connection closes.
	if ferr := s.b.nc.FlushTimeout(5 * time.Second); ferr != nil {
		err = errors.Join(err, fmt.Errorf("bus: subscriber close: flush naks: %w", ferr))
	}
	return err
}

// closeWait bounds subscriber.Close waiting for its goroutines.
const closeWait = 10 * time.Second

// acked reports whether the handler acked msg (nil: not handed out).
func acked(msg *message.Message) bool {
	if msg == nil {
		return false
	}
	select {
	case <-msg.Acked():
		return true
	default:
		return false
	}
}
