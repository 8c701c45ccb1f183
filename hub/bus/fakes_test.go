package bus

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/crvshub/crvshub/core"
)

// memOutbox is an in-memory core.Outbox; failDeletes makes the next n
// DeleteOutbox calls fail after nothing was deleted.
type memOutbox struct {
	mu          sync.Mutex
	msgs        []core.OutboxMessage
	failDeletes int
	deletes     int
}

func (o *memOutbox) add(m core.OutboxMessage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m.Seq = int64(len(o.msgs)+o.deletes) + 1
	o.msgs = append(o.msgs, m)
}

func (o *memOutbox) PendingOutbox(_ context.Context, limit int) ([]core.OutboxMessage, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := min(limit, len(o.msgs))
	return append([]core.OutboxMessage(nil), o.msgs[:n]...), nil
}

func (o *memOutbox) DeleteOutbox(_ context.Context, seqs ...int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failDeletes > 0 {
		o.failDeletes--
		return errors.New("disk I/O error (simulated crash before delete)")
	}
	del := map[int64]bool{}
	for _, s := range seqs {
		del[s] = true
	}
	keep := o.msgs[:0]
	for _, m := range o.msgs {
		if !del[m.Seq] {
			keep = append(keep, m)
		}
	}
	o.deletes += len(o.msgs) - len(keep)
	o.msgs = keep
	return nil
}

func (o *memOutbox) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.msgs)
}

// flakyPublisher fails the first fail publishes.
type flakyPublisher struct {
	message.Publisher
	mu    sync.Mutex
	fail  int
	calls int
}

func (p *flakyPublisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.Lock()
	p.calls++
	if p.fail > 0 {
		p.fail--
		p.mu.Unlock()
		return errors.New("nats: no responders (simulated)")
	}
	p.mu.Unlock()
	return p.Publisher.Publish(topic, msgs...)
}

// memSink is an in-memory core.DeadLetterSink; fail makes the next n puts fail.
type memSink struct {
	mu   sync.Mutex
	got  []core.DeadLetter
	fail int
}

func (s *memSink) PutDeadLetter(_ context.Context, d core.DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		return errors.New("database is locked (simulated)")
	}
	s.got = append(s.got, d)
	return nil
}

func (s *memSink) letters() []core.DeadLetter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]core.DeadLetter(nil), s.got...)
}

// value reads a single counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatalf("metric: %v", err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatal("not a counter or gauge")
	return 0
}
