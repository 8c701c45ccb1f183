package bus

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openBus(t *testing.T, dir string, o Options) *Bus {
	t.Helper()
	o.DataDir = dir
	if o.Log == nil {
		o.Log = quietLog()
	}
	if o.SubscribersCount == 0 {
		o.SubscribersCount = 1
	}
	b, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func publish(t *testing.T, p message.Publisher, topic, id, payload string) {
	t.Helper()
	if err := p.Publish(topic, message.NewMessage(id, []byte(payload))); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// receive waits for the next message (nil after d).
func receive(ch <-chan *message.Message, d time.Duration) *message.Message {
	select {
	case m := <-ch:
		return m
	case <-time.After(d):
		return nil
	}
}

func subscribe(t *testing.T, b *Bus, topic string) <-chan *message.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := b.Subscriber().Subscribe(ctx, topic)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return ch
}

func TestRoundTripAndDedup(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{})
	ch := subscribe(t, b, "births")
	id := watermill.NewUUID()
	publish(t, b.Publisher(), "births", id, `{"n":1}`)
	publish(t, b.Publisher(), "births", id, `{"n":1}`) // same UUID: dropped by the server
	m := receive(ch, 30*time.Second)
	if m == nil {
		t.Fatal("no message")
	}
	if m.UUID != id || string(m.Payload) != `{"n":1}` {
		t.Fatalf("got %s %s", m.UUID, m.Payload)
	}
	m.Ack()
	if m := receive(ch, 500*time.Millisecond); m != nil {
		t.Fatalf("duplicate delivered: %s", m.UUID)
	}
	if b.URL() == "" {
		t.Fatal("no URL")
	}
	if n, err := b.Depth("births"); err != nil || n != 0 {
		t.Fatalf("depth after the ack: %d, %v", n, err)
	}
	publish(t, b.Publisher(), "births", watermill.NewUUID(), `{"n":2}`)
	if m := receive(ch, 30*time.Second); m == nil {
		t.Fatal("no second message")
	} else if n, err := b.Depth("births"); err != nil || n != 1 {
		t.Fatalf("depth with one message delivered but not acked: %d, %v", n, err)
	} else {
		m.Ack()
	}
}

func TestDurableAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	b := openBus(t, dir, Options{})
	if fi, err := os.Stat(filepath.Join(dir, "nats")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store dir: %v %v, want 0700", fi, err)
	}
	// A consumed message must not come back after the restart; an
	// unconsumed one must.
	ch := subscribe(t, b, "deaths")
	publish(t, b.Publisher(), "deaths", "consumed-1", "a")
	m := receive(ch, 30*time.Second)
	if m == nil {
		t.Fatal("no message")
	}
	m.Ack()
	time.Sleep(100 * time.Millisecond) // the sync ack is sent by the subscriber goroutine
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	b2 := openBus(t, dir, Options{})
	publish(t, b2.Publisher(), "deaths", "pending-1", "b")
	if err := b2.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	b3 := openBus(t, dir, Options{})
	ch3 := subscribe(t, b3, "deaths")
	m = receive(ch3, 30*time.Second)
	if m == nil || m.UUID != "pending-1" {
		t.Fatalf("after restart got %v, want pending-1", m)
	}
	m.Ack()
	if m := receive(ch3, 500*time.Millisecond); m != nil {
		t.Fatalf("unexpected redelivery of %s", m.UUID)
	}
}

func TestRedelivery(t *testing.T) {
	tests := []struct {
		name    string
		nack    bool
		opts    Options
		atLeast time.Duration
	}{
		{"nack waits NakDelay", true, Options{NakDelay: 400 * time.Millisecond, AckWait: 10 * time.Second}, 350 * time.Millisecond},
		{"no ack waits AckWait", false, Options{NakDelay: 10 * time.Second, AckWait: time.Second}, 900 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openBus(t, t.TempDir(), tt.opts)
			ch := subscribe(t, b, "redeliver")
			publish(t, b.Publisher(), "redeliver", "m1", "x")
			m := receive(ch, 30*time.Second)
			if m == nil {
				t.Fatal("no message")
			}
			start := time.Now()
			if tt.nack {
				m.Nack()
			}
			m2 := receive(ch, 30*time.Second)
			if m2 == nil || m2.UUID != "m1" {
				t.Fatalf("not redelivered: %v", m2)
			}
			if el := time.Since(start); el < tt.atLeast {
				t.Fatalf("redelivered after %v, want >= %v", el, tt.atLeast)
			}
			m2.Ack()
		})
	}
}

// TestConsumerLimitFollowsSubscribers: the consumer's outstanding-message
// limit is the number of subscribers, also when a restart changes it.
func TestConsumerLimitFollowsSubscribers(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{2, 5} {
		b := openBus(t, dir, Options{SubscribersCount: n})
		subscribe(t, b, "limits")
		ci, err := b.js.ConsumerInfo("limits", group)
		if err != nil {
			t.Fatal(err)
		}
		if ci.Config.MaxAckPending != n {
			t.Fatalf("%d subscribers: MaxAckPending %d", n, ci.Config.MaxAckPending)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
