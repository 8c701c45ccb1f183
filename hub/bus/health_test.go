package bus

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/crvshub/crvshub/core"
)

// waitFor polls cond for up to a minute (generous: the machine may be busy).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 1 min waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runRelay runs a relay over ob to b until the test ends.
func runRelay(t *testing.T, b *Bus, ob core.Outbox) *Relay {
	t.Helper()
	r := &Relay{Outbox: ob, Publisher: b.Publisher(), Log: quietLog(), Interval: 20 * time.Millisecond,
		MaxBackoff: 30 * time.Second} // a long back-off: only the bus's recovery (Resume) ends it in time
	b.OnRecovered(r.Resume)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = r.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return r
}

// relayed subscribes to topic, runs a relay and sees a first message
// through.
func relayed(t *testing.T, b *Bus, topic string) (<-chan *message.Message, *memOutbox, *Relay) {
	t.Helper()
	ch := subscribe(t, b, topic)
	ob := &memOutbox{}
	r := runRelay(t, b, ob)
	ob.add(outboxMsg(topic, 1))
	r.Poke()
	receiveAck(t, ch, outboxMsg(topic, 1).ID)
	return ch, ob, r
}

// receiveAck waits (up to a minute) for the message id on ch and acks it.
func receiveAck(t *testing.T, ch <-chan *message.Message, id string) {
	t.Helper()
	m := receive(ch, time.Minute)
	if m == nil {
		t.Fatalf("timed out after 1 min waiting for message %s", id)
	}
	m.Ack()
	if m.UUID != id {
		t.Fatalf("got message %s, want %s", m.UUID, id)
	}
}

func outboxMsg(topic string, i int) core.OutboxMessage {
	return core.OutboxMessage{ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Topic: topic,
		Payload: []byte(fmt.Sprintf(`{"i":%d}`, i)), CreatedAt: time.Now()}
}

// TestBusRecoversWhenJetStreamStops: the embedded server shuts JetStream
// down underneath the hub (what it does itself on some storage errors).
// The bus reports it, restarts the server by itself, the subscription and
// the relay carry on, and a message sent meanwhile arrives.
func TestBusRecoversWhenJetStreamStops(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{HealthInterval: 50 * time.Millisecond})
	const topic = "recover"
	ch, ob, r := relayed(t, b, topic)
	if err := b.Health(); err != nil {
		t.Fatalf("healthy bus: %v", err)
	}
	waitFor(t, "the ack processed", func() bool { n, err := b.Depth(topic); return err == nil && n == 0 })

	if err := b.EmbeddedServer().ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bus to report JetStream down or to restart", func() bool { return b.Health() != nil || b.Restarts() > 0 })
	ob.add(outboxMsg(topic, 2))
	r.Poke()
	receiveAck(t, ch, outboxMsg(topic, 2).ID)
	if b.Restarts() < 1 {
		t.Fatal("the embedded server was not restarted")
	}
	waitFor(t, "the bus healthy", func() bool { return b.Health() == nil })
	waitFor(t, "the outbox empty and the relay healthy", func() bool { return ob.pending() == 0 && r.Health() == nil })
}

// TestSubscribeWaitsForTheBus: a subscription made while JetStream is
// down (a router starting during an outage) does not fail: it starts once
// the bus has recovered, and receives.
func TestSubscribeWaitsForTheBus(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{HealthInterval: 50 * time.Millisecond})
	if err := b.EmbeddedServer().ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	ch := subscribe(t, b, "waits")
	if b.Restarts() < 1 {
		t.Fatal("subscribed without JetStream")
	}
	publish(t, b.Publisher(), "waits", "00000000-0000-0000-0000-000000000001", `{}`)
	receiveAck(t, ch, "00000000-0000-0000-0000-000000000001")
}

// TestBusRecreatesLostConsumer: a subscribed topic whose durable consumer
// vanished (an external server that lost its state) gets it back, and
// the subscription receives again.
func TestBusRecreatesLostConsumer(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{HealthInterval: 50 * time.Millisecond})
	const topic = "lostconsumer"
	ch := subscribe(t, b, topic)
	if err := b.js.DeleteConsumer(topic, group); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the consumer re-created", func() bool {
		_, err := b.js.ConsumerInfo(topic, group)
		return err == nil
	})
	publish(t, b.Publisher(), topic, "00000000-0000-0000-0000-000000000001", `{}`)
	receiveAck(t, ch, "00000000-0000-0000-0000-000000000001")
}

// TestBusRecoversFromFullDisk fills the real file system under the
// embedded JetStream (a small tmpfs; needs root, skipped otherwise): the
// stream keeps its write error, publishes go unanswered, and the bus says
// so. Once space is back the bus restarts the server by itself and the
// message the relay kept flows.
func TestBusRecoversFromFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root; TestBusRecoversWhenJetStreamStops covers the recovery")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	b, err := Open(context.Background(), Options{DataDir: dir, Log: quietLog(), SubscribersCount: 1, HealthInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() }) // before the unmount (cleanups run last first)
	const topic = "diskfull"
	ch, ob, r := relayed(t, b, topic)

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	// publishes until one fails for lack of space (the first ones may be
	// taken into the server's buffer and fail only when flushed)
	var last string
	for i := 2; ; i++ {
		ob.add(outboxMsg(topic, i))
		last = outboxMsg(topic, i).ID
		r.Poke()
		if i > 500 {
			t.Fatal("no publish failed on a full disk")
		}
		time.Sleep(20 * time.Millisecond)
		if r.Health() != nil || b.Health() != nil {
			break
		}
	}
	waitFor(t, "the bus to report the write error", func() bool { return b.Health() != nil })
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// the relay's messages flow again; the last one is one it kept
	for {
		m := receive(ch, time.Minute)
		if m == nil {
			t.Fatalf("timed out after 1 min waiting for message %s after space came back (restarts %d, health %v, relay %v)",
				last, b.Restarts(), b.Health(), r.Health())
		}
		m.Ack()
		if m.UUID == last {
			break
		}
	}
	if b.Restarts() < 1 {
		t.Fatal("the embedded server was not restarted")
	}
	waitFor(t, "the bus healthy", func() bool { return b.Health() == nil })
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			return
		}
	}
}
