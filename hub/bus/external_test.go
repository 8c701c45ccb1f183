package bus

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/nats-io/nats-server/v2/server"
)

// TestExternalNATS: with URL set the bus starts no server of its own and
// works against an external JetStream (here a separate server on
// loopback), de-duplicating and surviving a reconnect of the bus.
func TestExternalNATS(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("external nats not ready")
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()

	open := func() *Bus {
		b, err := Open(context.Background(), Options{URL: ns.ClientURL(), Log: quietLog(), SubscribersCount: 1})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if b.URL() != ns.ClientURL() || b.ns != nil {
			t.Fatalf("bus URL %s (own server %v), want the external %s", b.URL(), b.ns != nil, ns.ClientURL())
		}
		return b
	}
	b := open()
	id := watermill.NewUUID()
	publish(t, b.Publisher(), "births", id, `{"n":1}`)
	publish(t, b.Publisher(), "births", id, `{"n":1}`)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// the message waits in the external server while no hub is connected
	b = open()
	defer b.Close()
	ch := subscribe(t, b, "births")
	m := receive(ch, 30*time.Second)
	if m == nil || m.UUID != id {
		t.Fatalf("message after reconnect: %v", m)
	}
	m.Ack()
	if m := receive(ch, 300*time.Millisecond); m != nil {
		t.Fatalf("duplicate delivered: %s", m.UUID)
	}
	if !ns.Running() {
		t.Fatal("closing the bus stopped the external server")
	}
}
