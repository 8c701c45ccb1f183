package bus

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// syncInterval is how often the embedded JetStream syncs its files.
const syncInterval = 100 * time.Millisecond

// group is the durable consumer name and queue group of every topic.
const group = "crvshub"

// Options configures Open.
type Options struct {
	DataDir          string        // embedded JetStream file storage in <DataDir>/nats (created 0700)
	URL              string        // external NATS; "" starts the embedded server on 127.0.0.1, random port
	Log              *slog.Logger  // nil: slog.Default()
	AckWait          time.Duration // default 30 s: redelivery when neither acked nor nacked
	NakDelay         time.Duration // default 1 s: redelivery delay after a Nack (none on shutdown)
	SubscribersCount int           // default 4 per topic
	// HealthInterval is how often the bus checks that messages can move
	// (default 1 s; see health.go): a failing embedded server is
	// restarted, a lost consumer re-created.
	HealthInterval time.Duration
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.NakDelay <= 0 {
		o.NakDelay = time.Second
	}
	if o.SubscribersCount <= 0 {
		o.SubscribersCount = 4
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = time.Second
	}
}

// Bus is a connection to JetStream (and, when embedded, the server itself)
// with one Watermill publisher and one subscriber.
type Bus struct {
	o   Options
	log *slog.Logger
	ns  *server.Server // nil when external; replaced by a restart (health.go)
	url string         // with the embedded server's token
	// the embedded server's store, port and token, kept for a restart
	storeDir string
	port     int
	token    string
	// shownURL is the embedded server's URL without the token.
	shownURL string
	nc       *nats.Conn // management connection (streams, consumers)
	js       nats.JetStreamContext
	pub      *publisher
	sub      *subscriber
	mu       sync.Mutex
	done     bool

	streams sync.Map // topic -> struct{}: stream ensured
	watch   watcher  // health.go
}

// Open starts (or connects to) NATS JetStream and builds the publisher and
// subscriber.
func Open(ctx context.Context, o Options) (*Bus, error) {
	o.defaults()
	b := &Bus{o: o, log: o.Log, url: o.URL}
	if b.url == "" {
		if o.DataDir == "" {
			return nil, errors.New("bus: DataDir is required for the embedded server")
		}
		if err := b.startServer(filepath.Join(o.DataDir, "nats")); err != nil {
			return nil, err
		}
	}
	if err := b.connect(ctx); err != nil {
		_ = b.Close()
		return nil, err
	}
	if b.ns != nil {
		b.returnOrphans(ctx)
	}
	b.startWatch()
	return b, nil
}

func (b *Bus) startServer(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bus: data dir: %w", err)
	}
	// A token made for this run only: the server listens on loopback, and
	// without it any local user could take route messages off the queue,
	// publish forged ones or delete the stream. Never logged.
	token, err := randomToken()
	if err != nil {
		return fmt.Errorf("bus: nats token: %w", err)
	}
	b.storeDir, b.token = dir, token
	ns, err := b.newServer(server.RANDOM_PORT)
	if err != nil {
		return err
	}
	b.ns = ns
	b.port = ns.Addr().(*net.TCPAddr).Port
	b.shownURL = ns.ClientURL()
	b.url = strings.Replace(b.shownURL, "://", "://"+token+"@", 1)
	b.log.Info("bus: embedded nats started", "url", b.shownURL, "store", dir)
	return nil
}

// newServer starts an embedded server on port with the bus's store and
// token and waits until it accepts connections.
func (b *Bus) newServer(port int) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{
		ServerName:    "crvshub",
		Host:          "127.0.0.1",
		Port:          port,
		JetStream:     true,
		StoreDir:      b.storeDir,
		NoSigs:        true,
		NoLog:         true,
		Authorization: b.token,
		// The relay deletes an outbox row once JetStream acknowledged the
		// message, which JetStream does before its disk write is synced.
		// Syncing every message (SyncAlways) cost 10% of registrations/s
		// (one fsync per publish, the relay publishing one at a time);
		// the default interval (2 minutes) left a long power-cut window.
		// 100 ms keeps the window small for one fsync per stream per tick.
		// A message lost there leaves its action Requested: it shows in
		// the operators' pending list, and a resend sends it again.
		SyncInterval: syncInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: nats server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("bus: embedded nats server not ready (timed out after 15 s)")
	}
	return ns, nil
}

func (b *Bus) connect(ctx context.Context) error {
	// Never give up reconnecting: the embedded server comes back on the
	// same port after a restart (health.go), an external one after its
	// outage.
	natsOpts := []nats.Option{nats.Name("crvshub"), nats.MaxReconnects(-1), nats.ReconnectWait(reconnectWait)}
	if dl, ok := ctx.Deadline(); ok {
		natsOpts = append(natsOpts, nats.Timeout(time.Until(dl)))
	}
	nc, err := nats.Connect(b.url, natsOpts...)
	if err != nil {
		return fmt.Errorf("bus: connect %s: %w", b.displayURL(), err)
	}
	b.nc = nc
	if b.js, err = nc.JetStream(); err != nil {
		return fmt.Errorf("bus: jetstream: %w", err)
	}
	logger := watermill.NewSlogLogger(b.log)
	// The publisher's only: the subscriber is the hub's own (subscriber.go).
	js := wmnats.JetStreamConfig{
		// Streams are made by ensureStream with the hub's settings (work
		// queue, file storage). A publish to a missing stream (an external
		// NATS that lost its state) must fail, so that the outbox keeps the
		// row, not create a stream with other settings that nobody reads.
		AutoProvision: false,
		TrackMsgId:    true,
	}
	p, err := wmnats.NewPublisher(wmnats.PublisherConfig{
		URL:         b.url,
		NatsOptions: natsOpts,
		Marshaler:   &wmnats.NATSMarshaler{},
		JetStream:   js,
	}, logger)
	if err != nil {
		return fmt.Errorf("bus: publisher: %w", err)
	}
	b.pub = &publisher{Publisher: p, b: b}
	b.sub = newSubscriber(b)
	return nil
}

// Publisher returns the JetStream publisher: the message UUID is the
// Nats-Msg-Id (server de-duplication), publishes wait for the server's ack.
func (b *Bus) Publisher() message.Publisher { return b.pub }

// Subscriber returns the JetStream subscriber: durable queue consumers,
// explicit synchronous acks, NakDelay after a Nack, AckWait otherwise;
// on shutdown every delivery not finished is nacked without delay (see
// subscriber).
func (b *Bus) Subscriber() message.Subscriber { return b.sub }

// URL is the NATS client URL (the embedded server's when embedded).
// For the embedded server it carries the run's token: do not log it (see
// displayURL).
func (b *Bus) URL() string { return b.url }

// displayURL is the URL without credentials (the embedded server's token,
// or a user and password in --nats-url), for logs and errors.
func (b *Bus) displayURL() string {
	if b.shownURL != "" {
		return b.shownURL
	}
	u, err := url.Parse(b.url)
	if err != nil {
		return "(NATS URL not shown)"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	return u.String()
}

func randomToken() (string, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// Close closes the subscriber, the publisher, then the embedded server
// (waiting for its shutdown). It may be called more than once.
func (b *Bus) Close() error {
	b.stopWatch() // before the lock: a restart in progress holds it
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return nil
	}
	b.done = true
	var errs []error
	if b.sub != nil {
		// before the connection closes: unfinished deliveries are
		// nacked (redelivered at once), not left to AckWait
		if err := b.sub.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if b.pub != nil {
		if err := b.pub.Publisher.Close(); err != nil {
			errs = append(errs, fmt.Errorf("bus: close publisher: %w", err))
		}
	}
	if b.nc != nil {
		b.nc.Close()
	}
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
		b.log.Info("bus: embedded nats stopped")
	}
	return errors.Join(errs...)
}

// validTopic reports whether topic can be a stream name and subject.
func validTopic(topic string) error {
	if topic == "" || len(topic) > 255 || strings.ContainsAny(topic, ".*> \t\r\n/\\") {
		return fmt.Errorf("bus: invalid topic %q (a stream name: no '.', '*', '>', '/', '\\' or spaces)", topic)
	}
	return nil
}

// ensureStream creates the topic's file-backed work-queue stream once.
func (b *Bus) ensureStream(topic string) error {
	if _, ok := b.streams.Load(topic); ok {
		return nil
	}
	if err := validTopic(topic); err != nil {
		return err
	}
	if _, err := b.js.StreamInfo(topic); err != nil {
		if !errors.Is(err, nats.ErrStreamNotFound) {
			return fmt.Errorf("bus: stream %s: %w", topic, err)
		}
		_, err = b.js.AddStream(&nats.StreamConfig{
			Name:       topic,
			Subjects:   []string{topic},
			Storage:    nats.FileStorage,
			Retention:  nats.WorkQueuePolicy, // kept until acked, removed then
			Duplicates: 2 * time.Minute,
		})
		if err != nil && !errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("bus: add stream %s: %w", topic, err)
		}
	}
	b.streams.Store(topic, struct{}{})
	return nil
}

// ensureConsumer creates (or updates) the topic's durable push consumer.
// It has at most SubscribersCount messages outstanding: JetStream's
// AckWait runs from delivery, and the subscriber hands every delivered
// message to a handler at once, so this is the number of handlers
// running; more would queue in the process with the clock running and
// could be handed out again (and their partner called twice) before their
// first handling even started. With several hub processes on one
// consumer the limit is shared by all.
func (b *Bus) ensureConsumer(topic string) error {
	if err := b.ensureStream(topic); err != nil {
		return err
	}
	info, err := b.js.ConsumerInfo(topic, group)
	switch {
	case errors.Is(err, nats.ErrConsumerNotFound):
		_, err = b.js.AddConsumer(topic, &nats.ConsumerConfig{
			Durable:        group,
			DeliverSubject: "_crvshub.deliver." + topic,
			DeliverGroup:   group,
			DeliverPolicy:  nats.DeliverAllPolicy,
			AckPolicy:      nats.AckExplicitPolicy,
			AckWait:        b.o.AckWait,
			MaxAckPending:  b.o.SubscribersCount,
			MaxDeliver:     -1,
		})
		if err != nil {
			return fmt.Errorf("bus: add consumer %s: %w", topic, err)
		}
	case err != nil:
		return fmt.Errorf("bus: consumer %s: %w", topic, err)
	case info.Config.AckWait != b.o.AckWait || info.Config.MaxAckPending != b.o.SubscribersCount:
		cfg := info.Config
		cfg.AckWait, cfg.MaxAckPending = b.o.AckWait, b.o.SubscribersCount
		if _, err := b.js.UpdateConsumer(topic, &cfg); err != nil {
			return fmt.Errorf("bus: update consumer %s: %w", topic, err)
		}
	}
	return nil
}

type publisher struct {
	*wmnats.Publisher
	b *Bus
}

func (p *publisher) Publish(topic string, msgs ...*message.Message) error {
	if err := p.b.ensureStream(topic); err != nil {
		return err
	}
	if err := p.Publisher.Publish(topic, msgs...); err != nil {
		// the stream may be gone (an external NATS that lost its state):
		// the next publish checks it again
		p.b.streams.Delete(topic)
		return fmt.Errorf("bus: publish %s: %w", topic, err)
	}
	return nil
}

// Depth reports how many messages of a topic wait for its consumer: not
// yet delivered plus delivered and not yet acknowledged (a metric).
func (b *Bus) Depth(topic string) (int, error) {
	info, err := b.js.ConsumerInfo(topic, group)
	if err != nil {
		return 0, fmt.Errorf("bus: depth of %s: %w", topic, err)
	}
	return int(info.NumPending) + info.NumAckPending, nil
}
