package bus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/crvshub/crvshub/adapters"
)

// syncBuf is a log buffer safe for concurrent writers.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, nil))
	reg := prometheus.NewRegistry()
	b := NewBreakers(BreakerSettings{FailureThreshold: 3, OpenTimeout: 150 * time.Millisecond}, log, reg)

	var calls atomic.Int32
	var fail atomic.Bool
	fail.Store(true)
	h := b.Middleware("mosip")(func(*message.Message) ([]*message.Message, error) {
		calls.Add(1)
		if fail.Load() {
			return nil, errTransient
		}
		return nil, nil
	})
	run := func() error { _, err := h(message.NewMessage("m", nil)); return err }
	gauge := func() float64 { return value(t, b.state.WithLabelValues("mosip")) }

	for i := range 3 {
		err := run()
		if !errors.Is(err, errTransient) {
			t.Fatalf("call %d: %v", i, err)
		}
		// the failure that opens the breaker says the partner is failing as
		// a whole: unavailable (stay queued), not a plain failure that would
		// spend the message's retry budget
		if tripped := i == 2; errors.Is(err, ErrUnavailable) != tripped {
			t.Fatalf("call %d: unavailable=%v, want %v (%v)", i, errors.Is(err, ErrUnavailable), tripped, err)
		}
	}
	if b.State("mosip") != gobreaker.StateOpen || gauge() != 2 {
		t.Fatalf("state %v gauge %v, want open/2", b.State("mosip"), gauge())
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "partner=mosip") {
		t.Fatalf("opening not logged as a warning: %s", logs.String())
	}
	for range 5 {
		if err := run(); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("open breaker: %v, want ErrUnavailable", err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("handler called %d times while open, want 3 in all", calls.Load())
	}
	if err := b.Execute("mosip", func() error { t.Fatal("called while open"); return nil }); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Execute while open: %v", err)
	}

	time.Sleep(200 * time.Millisecond)
	if b.State("mosip") != gobreaker.StateHalfOpen {
		t.Fatalf("state %v, want half-open", b.State("mosip"))
	}
	// One half-open probe: a concurrent second request is refused.
	fail.Store(false)
	probe := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_ = b.Execute("mosip", func() error { close(probe); <-release; return nil })
	}()
	<-probe
	if gauge() != 1 {
		t.Fatalf("gauge %v, want 1 (half-open)", gauge())
	}
	if err := run(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second half-open request: %v, want ErrUnavailable", err)
	}
	close(release)
	deadline := time.Now().Add(2 * time.Second)
	for b.State("mosip") != gobreaker.StateClosed && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if b.State("mosip") != gobreaker.StateClosed || gauge() != 0 {
		t.Fatalf("state %v gauge %v, want closed/0 after the probe succeeded", b.State("mosip"), gauge())
	}
	if err := run(); err != nil {
		t.Fatalf("closed breaker: %v", err)
	}
	if v := value(t, b.trans.WithLabelValues("mosip", "open")); v != 1 {
		t.Fatalf("transitions to open %v, want 1", v)
	}
	// Another partner's breaker is independent.
	if b.State("osia") != gobreaker.StateClosed {
		t.Fatal("osia breaker not closed")
	}
}

func TestBreakerIgnoresPermanentAndCancel(t *testing.T) {
	b := NewBreakers(BreakerSettings{FailureThreshold: 2, OpenTimeout: time.Minute}, quietLog(), nil)
	errs := []error{
		fmt.Errorf("createPacket: %w: bad data", adapters.ErrPermanent),
		context.Canceled,
	}
	for _, e := range errs {
		for range 5 {
			if err := b.Execute("mosip", func() error { return e }); !errors.Is(err, e) {
				t.Fatalf("err %v, want %v", err, e)
			}
		}
	}
	if b.State("mosip") != gobreaker.StateClosed {
		t.Fatalf("state %v, want closed", b.State("mosip"))
	}
	// Plain failures still open it.
	for range 2 {
		_ = b.Execute("mosip", func() error { return errTransient })
	}
	if b.State("mosip") != gobreaker.StateOpen {
		t.Fatalf("state %v, want open", b.State("mosip"))
	}
}

func TestNewBreakersTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewBreakers(BreakerSettings{}, quietLog(), reg)
	b := NewBreakers(BreakerSettings{}, quietLog(), reg)
	if a.state != b.state {
		t.Fatal("second NewBreakers did not reuse the registered gauge")
	}
	_ = a.State("x")
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
