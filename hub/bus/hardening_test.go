package bus

import (
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// TestEmbeddedServerNeedsTheToken: the embedded NATS server listens on
// loopback; a local client without the run's token cannot connect (it
// could otherwise take route messages off the queue or delete streams),
// and the token never shows in what is logged.
func TestEmbeddedServerNeedsTheToken(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{})
	if nc, err := nats.Connect(b.shownURL, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("a client without the token connected to the embedded server")
	}
	nc, err := nats.Connect(b.URL())
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	nc.Close()
	if strings.Contains(b.displayURL(), "@") || b.displayURL() == b.URL() {
		t.Errorf("displayURL %q shows credentials", b.displayURL())
	}
	ext := &Bus{url: "nats://user:secret@127.0.0.1:4222"}
	if strings.Contains(ext.displayURL(), "secret") {
		t.Errorf("external displayURL %q shows the password", ext.displayURL())
	}
}

// TestEmbeddedServerSyncsOften: the embedded JetStream syncs its files
// every 100 ms, not every two minutes (the relay deletes an outbox row once
// the message is acknowledged, before it is synced).
func TestEmbeddedServerSyncsOften(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{})
	if cfg := b.ns.JetStreamConfig(); cfg == nil || cfg.SyncInterval != syncInterval {
		t.Fatalf("embedded JetStream config %+v: want SyncInterval %s", cfg, syncInterval)
	}
}

// TestPublishToAMissingStreamFails: if the stream disappears (an external
// NATS that lost its state), a publish fails so that the outbox keeps the
// row; it does not create a stream with other settings that nobody reads.
func TestPublishToAMissingStreamFails(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{})
	publish(t, b.Publisher(), "births", watermill.NewUUID(), `{"n":1}`)
	if err := b.js.DeleteStream("births"); err != nil {
		t.Fatal(err)
	}
	err := b.Publisher().Publish("births", message.NewMessage(watermill.NewUUID(), []byte(`{"n":2}`)))
	if err == nil {
		t.Fatal("publish to a deleted stream succeeded")
	}
	if _, err := b.js.StreamInfo("births"); err == nil {
		t.Fatal("the publish re-created the stream")
	}
}

// TestUndecodableMessageIsTerminated: a message the decoder refuses does
// not come back every AckWait holding a delivery slot: it is terminated,
// and the messages behind it are handled.
func TestUndecodableMessageIsTerminated(t *testing.T) {
	b := openBus(t, t.TempDir(), Options{SubscribersCount: 1, AckWait: time.Minute})
	ch := subscribe(t, b, "births")
	bad := nats.NewMsg("births")
	bad.Data = []byte(`{}`)
	bad.Header.Add("correlation_id", "a")
	bad.Header.Add("correlation_id", "b") // one metadata key twice: refused by the decoder
	if _, err := b.js.PublishMsg(bad); err != nil {
		t.Fatal(err)
	}
	good := watermill.NewUUID()
	publish(t, b.Publisher(), "births", good, `{"n":1}`)
	m := receive(ch, 30*time.Second)
	if m == nil || m.UUID != good {
		t.Fatalf("the message behind an undecodable one: %v", m)
	}
	m.Ack()
}
