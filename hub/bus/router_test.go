package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
)

func runRouter(t *testing.T, b *Bus, o RouterOptions, hs ...Handler) {
	t.Helper()
	if o.Log == nil {
		o.Log = quietLog()
	}
	o.CloseTimeout = 5 * time.Second
	r, err := NewRouter(b.Subscriber(), o, hs...)
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Errorf("router: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = r.Close()
		<-done
	})
	select {
	case <-r.Running():
	case <-time.After(10 * time.Second):
		t.Fatal("router not running")
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	const within = time.Minute // generous: the wait ends as soon as cond holds
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRouterDeadLettersAndRedelivery(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{NakDelay: 150 * time.Millisecond, AckWait: 5 * time.Second})
	permanent := fmt.Errorf("createPacket: %w: invalid", adapters.ErrPermanent)
	tests := []struct {
		name      string
		errs      []error // the handler's results, in turn; nil after them
		sinkFail  int
		wantCalls int32 // once settled
		letters   int
		attempts  int
	}{
		{"budget exhausted: dead-lettered, acked", []error{errTransient, errTransient, errTransient}, 0, 3, 1, 3},
		{"permanent: dead-lettered at once", []error{permanent}, 0, 1, 1, 1},
		{"unavailable: kept queued, redelivered", []error{fmt.Errorf("mosip: %w", ErrUnavailable)}, 0, 2, 0, 0},
		{"sink failing: nacked, redelivered", []error{permanent, permanent}, 1, 2, 1, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := fmt.Sprintf("dl%d", i)
			sink := &memSink{fail: tt.sinkFail}
			var calls atomic.Int32
			h := failing(&calls, tt.errs...)
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			runRouter(t, b, RouterOptions{Retry: fastRetry(2), Sink: sink, Metrics: m}, Handler{
				Name: "h" + topic, Topic: topic,
				Func: func(msg *message.Message) error { _, err := h(msg); return err },
			})
			msg := message.NewMessage(fmt.Sprintf("id-%d", i), []byte(`{"k":"v"}`))
			if err := b.Publisher().Publish(topic, msg); err != nil {
				t.Fatal(err)
			}
			eventually(t, "handler calls", func() bool { return calls.Load() >= tt.wantCalls })
			eventually(t, "dead letters", func() bool { return len(sink.letters()) >= tt.letters })
			time.Sleep(400 * time.Millisecond) // > NakDelay: nothing more may come
			if calls.Load() != tt.wantCalls {
				t.Fatalf("handler called %d times, want %d", calls.Load(), tt.wantCalls)
			}
			got := sink.letters()
			if len(got) != tt.letters {
				t.Fatalf("%d dead letters, want %d", len(got), tt.letters)
			}
			if len(got) == 1 && (got[0].ID != msg.UUID || got[0].Attempts != tt.attempts || got[0].Error == "" ||
				got[0].Handler != "h"+topic || got[0].Topic != topic || string(got[0].Payload) != `{"k":"v"}`) {
				t.Fatalf("dead letter %+v", got[0])
			}
			if v := value(t, m.deadLetters.WithLabelValues("h"+topic)); v != float64(tt.letters) {
				t.Fatalf("dead letter counter %v", v)
			}
		})
	}
}

func TestRouterCorrelationAndPanic(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{NakDelay: 100 * time.Millisecond})
	var mu sync.Mutex
	seen := map[string]string{}
	var panicked atomic.Int32
	sink := &memSink{}
	runRouter(t, b, RouterOptions{Sink: sink}, Handler{
		Name: "corr", Topic: "corr", Timeout: time.Second,
		Func: func(msg *message.Message) error {
			if msg.UUID == "boom" {
				panicked.Add(1)
				panic("handler bug")
			}
			if _, ok := msg.Context().Deadline(); !ok {
				return errors.New("no timeout on the context")
			}
			mu.Lock()
			defer mu.Unlock()
			seen[msg.UUID] = core.RequestMetaFrom(msg.Context()).CorrelationID
			return nil
		},
	})
	given := message.NewMessage("given", nil)
	given.Metadata.Set("correlation_id", "corr-from-http")
	for _, m := range []*message.Message{given, message.NewMessage("missing", nil), message.NewMessage("boom", nil)} {
		if err := b.Publisher().Publish("corr", m); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "two messages handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 2 })
	// a panic is a bug: dead-lettered at once, not retried nor redelivered
	eventually(t, "the panicking message dead-lettered", func() bool { return len(sink.letters()) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if seen["given"] != "corr-from-http" {
		t.Fatalf("given correlation id arrived as %q", seen["given"])
	}
	if seen["missing"] == "" || seen["missing"] == "corr-from-http" {
		t.Fatalf("generated correlation id %q", seen["missing"])
	}
	if d := sink.letters()[0]; d.ID != "boom" || !strings.Contains(d.Error, "handler panicked: handler bug") || d.Attempts != 1 {
		t.Fatalf("dead letter = %+v", d)
	}
	time.Sleep(300 * time.Millisecond) // > NakDelay: a nacked message would be back
	if n := panicked.Load(); n != 1 {
		t.Fatalf("the panicking message ran %d times, want 1", n)
	}
}

func TestRouterBreakerKeepsMessagesQueued(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{NakDelay: 100 * time.Millisecond})
	br := NewBreakers(BreakerSettings{FailureThreshold: 2, OpenTimeout: 800 * time.Millisecond}, quietLog(), nil)
	sink := &memSink{}
	var calls, ok atomic.Int32
	var down atomic.Bool
	down.Store(true)
	runRouter(t, b, RouterOptions{Sink: sink, Breakers: br, Retry: fastRetry(5)}, Handler{
		Name: "mosip-birth", Topic: "nid", Partner: "mosip",
		Func: func(*message.Message) error {
			calls.Add(1)
			if down.Load() {
				return errTransient
			}
			ok.Add(1)
			return nil
		},
	})
	if err := b.Publisher().Publish("nid", message.NewMessage("b1", nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "breaker open", func() bool { return br.State("mosip") == 2 })
	time.Sleep(300 * time.Millisecond) // redeliveries while open never reach the handler
	if c := calls.Load(); c != 2 {
		t.Fatalf("handler called %d times, want 2 (threshold) while open", c)
	}
	down.Store(false)
	eventually(t, "delivered after recovery", func() bool { return ok.Load() == 1 })
	if len(sink.letters()) != 0 {
		t.Fatal("unavailable partner's message was dead-lettered")
	}
}

func TestNewRouterRefusesBadHandlers(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{})
	f := func(*message.Message) error { return nil }
	tests := []struct {
		name string
		o    RouterOptions
		hs   []Handler
	}{
		{"no sink", RouterOptions{}, []Handler{{Name: "a", Topic: "t", Func: f}}},
		{"no name", RouterOptions{Sink: &memSink{}}, []Handler{{Topic: "t", Func: f}}},
		{"no func", RouterOptions{Sink: &memSink{}}, []Handler{{Name: "a", Topic: "t"}}},
		{"dotted topic", RouterOptions{Sink: &memSink{}}, []Handler{{Name: "a", Topic: "a.b", Func: f}}},
		{"duplicate", RouterOptions{Sink: &memSink{}}, []Handler{{Name: "a", Topic: "t", Func: f}, {Name: "a", Topic: "u", Func: f}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRouter(b.Subscriber(), tt.o, tt.hs...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if err := b.Publisher().Publish("a.b", message.NewMessage("x", nil)); err == nil {
		t.Fatal("published to an invalid topic")
	}
}

// TestQueuedMessagesAreNotRedelivered: JetStream's ack wait runs from
// delivery, and every subscriber handles one message at a time, so a
// message pushed to a busy subscriber waits in its buffer with the clock
// running. With more messages delivered than handlers, a queued message
// outlives the ack wait before its handler even starts, and JetStream
// hands it out again: the partner would be called twice. The consumer
// therefore has no more messages outstanding than there are handlers.
func TestQueuedMessagesAreNotRedelivered(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{AckWait: time.Second, NakDelay: 100 * time.Millisecond, SubscribersCount: 1})
	var mu sync.Mutex
	calls := map[string]int{}
	runRouter(t, b, RouterOptions{Sink: &memSink{}}, Handler{Name: "slow", Topic: "slow", Func: func(m *message.Message) error {
		mu.Lock()
		calls[m.UUID]++
		mu.Unlock()
		time.Sleep(400 * time.Millisecond) // each handling is shorter than the ack wait
		return nil
	}})
	ids := []string{"q1", "q2", "q3", "q4", "q5"}
	for _, id := range ids {
		publish(t, b.Publisher(), "slow", id, "x")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n == len(ids) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a redelivery would arrive by now
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if calls[id] != 1 {
			t.Errorf("message %s handled %d times, want once (calls %v)", id, calls[id], calls)
		}
	}
}
