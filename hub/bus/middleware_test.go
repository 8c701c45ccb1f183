package bus

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
)

var errTransient = errors.New("connection reset (simulated)")

// failing returns a handler failing with errs in turn (nil after them) and
// counting its calls.
func failing(calls *atomic.Int32, errs ...error) message.HandlerFunc {
	return func(*message.Message) ([]*message.Message, error) {
		n := int(calls.Add(1))
		if n <= len(errs) {
			return nil, errs[n-1]
		}
		return nil, nil
	}
}

func fastRetry(n int) RetryPolicy {
	return RetryPolicy{MaxRetries: n, InitialInterval: time.Millisecond, MaxInterval: 4 * time.Millisecond, Multiplier: 2, RandomizationFactor: 0.5}
}

func TestRetry(t *testing.T) {
	permanent := fmt.Errorf("createPacket: %w: invalid UIN", adapters.ErrPermanent)
	unavailable := fmt.Errorf("%w: mosip", ErrUnavailable)
	tests := []struct {
		name      string
		max       int
		errs      []error
		wantCalls int32
		wantErr   error
	}{
		{"success at once", 3, nil, 1, nil},
		{"transient then success", 3, []error{errTransient, errTransient}, 3, nil},
		{"budget exhausted", 2, []error{errTransient, errTransient, errTransient, errTransient}, 3, errTransient},
		{"permanent not retried", 3, []error{permanent}, 1, adapters.ErrPermanent},
		{"unavailable not retried", 3, []error{unavailable}, 1, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			h := Retry(fastRetry(tt.max), quietLog())(failing(&calls, tt.errs...))
			_, err := h(message.NewMessage("m", nil))
			if calls.Load() != tt.wantCalls {
				t.Fatalf("calls %d, want %d", calls.Load(), tt.wantCalls)
			}
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil && attempts(err) != int(tt.wantCalls) {
				t.Fatalf("attempts %d, want %d", attempts(err), tt.wantCalls)
			}
		})
	}
}

func TestRetryTimeoutPerAttempt(t *testing.T) {
	// Timeout inside Retry: each attempt gets a fresh deadline.
	var calls atomic.Int32
	h := Retry(fastRetry(2), quietLog())(Timeout(30 * time.Millisecond)(func(msg *message.Message) ([]*message.Message, error) {
		if calls.Add(1) < 3 {
			<-msg.Context().Done()
			return nil, msg.Context().Err()
		}
		return nil, msg.Context().Err() // must be nil: a new deadline
	}))
	if _, err := h(message.NewMessage("m", nil)); err != nil || calls.Load() != 3 {
		t.Fatalf("err %v calls %d", err, calls.Load())
	}
}

func TestBackoffJitterBounded(t *testing.T) {
	p := RetryPolicy{InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2, RandomizationFactor: 0.25}
	tests := []struct {
		n    int
		base time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {50, time.Second}}
	for _, tt := range tests {
		lo, hi := time.Duration(float64(tt.base)*0.75), time.Duration(float64(tt.base)*1.25)
		seen := map[time.Duration]bool{}
		if m := p.MaxBackoff(tt.n); m != hi {
			t.Fatalf("retry %d: MaxBackoff %v, want %v", tt.n, m, hi)
		}
		for range 200 {
			d := p.Backoff(tt.n)
			if d < lo || d > hi {
				t.Fatalf("retry %d: %v outside [%v, %v]", tt.n, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Fatalf("retry %d: no jitter (%d distinct values)", tt.n, len(seen))
		}
	}
	if d := (RetryPolicy{InitialInterval: time.Second}).Backoff(3); d != 4*time.Second {
		t.Fatalf("no jitter: %v, want 4s", d)
	}
	p.MaxRetries = 5 // 125 + 250 + 500 + 1000 + 1250 ms
	if d := p.MaxWaits(); d != 3125*time.Millisecond {
		t.Fatalf("MaxWaits %v, want 3.125s", d)
	}
}

func TestDeadLetterMiddleware(t *testing.T) {
	permanent := fmt.Errorf("createPacket: %w: invalid", adapters.ErrPermanent)
	tests := []struct {
		name         string
		errs         []error
		sinkFail     int
		wantErr      bool
		wantLetters  int
		wantAttempts int
		wantCalls    int32
	}{
		{"success", nil, 0, false, 0, 0, 1},
		{"budget exhausted", []error{errTransient, errTransient, errTransient}, 0, false, 1, 3, 3},
		{"permanent at once", []error{permanent}, 0, false, 1, 1, 1},
		{"unavailable kept queued", []error{fmt.Errorf("x: %w", ErrUnavailable)}, 0, true, 0, 0, 1},
		{"sink failing nacks", []error{permanent}, 1, true, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memSink{fail: tt.sinkFail}
			var calls atomic.Int32
			h := DeadLetter(sink, "births", "mosip-birth", quietLog())(Retry(fastRetry(2), quietLog())(failing(&calls, tt.errs...)))
			msg := message.NewMessage("id-1", []byte(`{"x":1}`))
			msg.Metadata.Set("correlation_id", "corr-1")
			_, err := h(msg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error: %v", err, tt.wantErr)
			}
			if calls.Load() != tt.wantCalls {
				t.Fatalf("calls %d, want %d", calls.Load(), tt.wantCalls)
			}
			got := sink.letters()
			if len(got) != tt.wantLetters {
				t.Fatalf("%d dead letters, want %d", len(got), tt.wantLetters)
			}
			if len(got) == 1 {
				d := got[0]
				if d.ID != "id-1" || d.Topic != "births" || d.Handler != "mosip-birth" || string(d.Payload) != `{"x":1}` ||
					d.Metadata["correlation_id"] != "corr-1" || d.Error == "" || d.Attempts != tt.wantAttempts || d.FailedAt.IsZero() {
					t.Fatalf("dead letter %+v", d)
				}
			}
		})
	}
}

func TestCorrelationMiddleware(t *testing.T) {
	tests := []struct{ name, given string }{{"kept", "corr-42"}, {"generated", ""}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := message.NewMessage("m", nil)
			if tt.given != "" {
				msg.Metadata.Set("correlation_id", tt.given)
			}
			msg.SetContext(core.WithRequestMeta(context.Background(), core.RequestMeta{RemoteAddr: "10.0.0.1"}))
			var seen core.RequestMeta
			out, err := Correlation()(func(m *message.Message) ([]*message.Message, error) {
				seen = core.RequestMetaFrom(m.Context())
				return []*message.Message{message.NewMessage("child", nil)}, nil
			})(msg)
			if err != nil {
				t.Fatal(err)
			}
			id := msg.Metadata.Get("correlation_id")
			if id == "" || tt.given != "" && id != tt.given || seen.CorrelationID != id || seen.RemoteAddr != "10.0.0.1" {
				t.Fatalf("metadata %q, ctx %+v", id, seen)
			}
			if out[0].Metadata.Get("correlation_id") != id {
				t.Fatalf("produced message lacks the correlation id")
			}
		})
	}
}

// TestRetryStopsWithTheContext: a context ending between attempts stops
// the retries; the error keeps the handler's error and says why, with
// the attempts made.
func TestRetryStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	p := RetryPolicy{MaxRetries: 5, InitialInterval: time.Minute}
	h := Retry(p, quietLog())(func(*message.Message) ([]*message.Message, error) {
		calls.Add(1)
		cancel() // the hub stops while the first attempt fails
		return nil, errTransient
	})
	msg := message.NewMessage("m", nil)
	msg.SetContext(ctx)
	done := make(chan error, 1)
	go func() { _, err := h(msg); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, errTransient) || !errors.Is(err, context.Canceled) || attempts(err) != 1 || calls.Load() != 1 {
			t.Fatalf("err %v (attempts %d, calls %d), want the handler's error, context.Canceled, 1 attempt", err, attempts(err), calls.Load())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("timed out after 30 s: Retry kept waiting after its context ended")
	}
	if msg.Context() != ctx {
		t.Fatal("the message's context was not restored")
	}
}
