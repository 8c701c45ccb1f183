package nationalid_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/hub/app"
	"github.com/crvshub/crvshub/hub/bus"
	"github.com/crvshub/crvshub/testharness/hubtest"
	"github.com/crvshub/crvshub/testharness/mosipmock"
)

const benchClients = 32

// BenchmarkRegistrationEndToEnd: REGISTER request -> route message ->
// outbox -> JetStream -> MOSIP mock (zero latency, real HTTP and crypto)
// -> signed encrypted callback -> accepted, async mode, 32 clients.
// Reports registrations per second and the p99 from request to accept.
// The records are notified and declared before the timer starts.
func BenchmarkRegistrationEndToEnd(b *testing.B) {
	m := app.MessagingOptions{Retry: bus.RetryPolicy{MaxRetries: 3, InitialInterval: 20 * time.Millisecond, MaxInterval: 200 * time.Millisecond, Multiplier: 2, RandomizationFactor: 0.5}}
	p := mosipmock.Profile{}
	h := hubtest.Start(b, hubtest.Options{MOSIP: &p, Messaging: m, TokenTTL: 24 * time.Hour}) // tokens outlive the run
	tok := h.ClientToken(hubtest.OfficeIbombo, append(slices.Clone(hubtest.AllScopes), "type=record.confirm-registration")...)
	ids := make([]string, b.N)
	var wg sync.WaitGroup
	sem := make(chan struct{}, benchClients)
	for i := range b.N {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ev := h.Notify(tok, "birth", fmt.Sprintf("bench-%d-n", i), verifiedBirth("Bench", fmt.Sprint("N", i)))
			if res := h.Act(tok, ev.ID, "declare", fmt.Sprintf("bench-%d-d", i), nil); res.Status != 200 {
				b.Errorf("declare: %d %s", res.Status, res.Body)
			}
			ids[i] = ev.ID
		}()
	}
	wg.Wait()
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	if f := os.Getenv("CRVSHUB_BENCH_CPUPROFILE"); f != "" {
		// the timed part only (go test -cpuprofile includes the setup)
		out, err := os.Create(f)
		if err != nil {
			b.Fatal(err)
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	start := time.Now()
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				res := h.Act(tok, ids[i], "register", fmt.Sprintf("bench-%d-r", i), nil)
				if res.Status != 200 {
					b.Errorf("register: %d %s", res.Status, res.Body)
					return
				}
				// wait for the accept (woken in-process when it commits)
				pending := core.Derive(res.Event()).Pending
				if pending == nil || !h.App.Dispatcher.Await(ctx, "mosip", ids[i], pending.ID, 60*time.Second) {
					b.Errorf("timeout: event %s not registered within 60 s", ids[i])
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reg/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// BenchmarkBusBaseline: bare publish + consume of small messages on the
// same embedded JetStream (file storage, de-duplication, sync acks), 32
// publishers: the bus's own ceiling, for the ratio.
func BenchmarkBusBaseline(b *testing.B) {
	bs, err := bus.Open(context.Background(), bus.Options{DataDir: b.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	var got atomic.Int64
	done := make(chan struct{})
	r, err := bus.NewRouter(bs.Subscriber(), bus.RouterOptions{Sink: discardSink{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, bus.Handler{Name: "bench", Topic: "bench-baseline",
		Func: func(*message.Message) error {
			if got.Add(1) == int64(b.N) {
				close(done)
			}
			return nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	<-r.Running()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := bs.Publisher().Publish("bench-baseline", message.NewMessage(core.NewID(), []byte(`{"eventId":"x"}`))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Minute): // generous: a busy machine consumes late
		b.Fatalf("timeout: consumed %d of %d within 5 min of the last publish", got.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
	b.StopTimer()
	_ = r.Close()
}

type discardSink struct{}

func (discardSink) PutDeadLetter(context.Context, core.DeadLetter) error { return nil }
