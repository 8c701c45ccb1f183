package bus

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crvshub/crvshub/core"
)

func TestRelay(t *testing.T) {
	tests := []struct {
		name        string
		n           int
		failPublish int
		failDeletes int
		batch       int
		wantErrs    bool
	}{
		{"in order, once each, deleted", 40, 0, 0, 16, false},
		{"publisher failing for a while", 10, 4, 0, 0, true},
		{"crash between publish and delete", 10, 0, 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openBus(t, t.TempDir(), Options{})
			ch := subscribe(t, b, "relay")
			ob := &memOutbox{failDeletes: tt.failDeletes}
			for i := range tt.n {
				ob.add(core.OutboxMessage{
					ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Topic: "relay",
					Payload: []byte(fmt.Sprintf(`{"i":%d}`, i)), Metadata: map[string]string{"correlation_id": fmt.Sprint("c", i)},
				})
			}
			pub := &flakyPublisher{Publisher: b.Publisher(), fail: tt.failPublish}
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			r := &Relay{Outbox: ob, Publisher: pub, Log: quietLog(), Interval: 20 * time.Millisecond,
				MaxBackoff: 80 * time.Millisecond, Batch: tt.batch, Metrics: m}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.Run(ctx); err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			r.Poke()
			for i := range tt.n {
				msg := receive(ch, 30*time.Second)
				if msg == nil {
					t.Fatalf("message %d not delivered", i)
				}
				want := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
				if msg.UUID != want || string(msg.Payload) != fmt.Sprintf(`{"i":%d}`, i) || msg.Metadata.Get("correlation_id") != fmt.Sprint("c", i) {
					t.Fatalf("message %d: got %s %s %v", i, msg.UUID, msg.Payload, msg.Metadata)
				}
				msg.Ack()
			}
			if msg := receive(ch, 400*time.Millisecond); msg != nil {
				t.Fatalf("delivered twice: %s", msg.UUID)
			}
			deadline := time.Now().Add(3 * time.Second)
			for ob.pending() > 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			wg.Wait()
			if n := ob.pending(); n != 0 {
				t.Fatalf("%d messages left in the outbox", n)
			}
			if got := value(t, m.relayed); got < float64(tt.n) {
				t.Fatalf("relayed counter %v, want >= %d", got, tt.n)
			}
			if errs := value(t, m.relayErrors); (errs > 0) != tt.wantErrs {
				t.Fatalf("error counter %v, want errors: %v", errs, tt.wantErrs)
			}
			if tt.failDeletes > 0 && pub.calls < 2*tt.n {
				t.Fatalf("publisher called %d times, want the batch republished (>= %d)", pub.calls, 2*tt.n)
			}
			if tt.failPublish > 0 && pub.calls < tt.n+tt.failPublish {
				t.Fatalf("publisher called %d times, want >= %d", pub.calls, tt.n+tt.failPublish)
			}
		})
	}
}

func TestRelayReturnsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{Outbox: &memOutbox{}, Publisher: &flakyPublisher{}, Log: quietLog()}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	r.Poke()
	r.Poke() // never blocks
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("timeout: Run did not return within 30 s of its context's end")
	}
}
