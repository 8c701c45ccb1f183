package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
)

// Handler consumes one topic for one partner.
type Handler struct {
	Name    string // unique in the router; the dead letters' handler
	Topic   string
	Partner string // breaker name; "" = no breaker
	Func    message.NoPublishHandlerFunc
	Timeout time.Duration // per attempt; 0 = none
}

// RouterOptions are shared by every handler of a router.
type RouterOptions struct {
	Retry    RetryPolicy
	Sink     core.DeadLetterSink // required
	Breakers *Breakers           // nil: no breakers
	Log      *slog.Logger
	Metrics  *Metrics // optional (dead-letter counter)
	// CloseTimeout bounds Router.Close waiting for running handlers
	// (default 30 s).
	CloseTimeout time.Duration
}

// NewRouter builds a Watermill router with one consumer handler per
// Handler. Middleware order, outermost first: Recoverer, Correlation,
// DeadLetter, panic-as-permanent, Retry, Timeout, Breaker(partner), handler.
func NewRouter(sub message.Subscriber, o RouterOptions, hs ...Handler) (*message.Router, error) {
	if sub == nil {
		return nil, errors.New("bus: router: nil subscriber")
	}
	if o.Sink == nil {
		return nil, errors.New("bus: router: a dead-letter sink is required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 30 * time.Second
	}
	seen := map[string]bool{}
	for _, h := range hs {
		switch {
		case h.Name == "" || h.Func == nil:
			return nil, fmt.Errorf("bus: router: handler %q needs a name and a func", h.Name)
		case seen[h.Name]:
			return nil, fmt.Errorf("bus: router: duplicate handler %q", h.Name)
		}
		if err := validTopic(h.Topic); err != nil {
			return nil, fmt.Errorf("bus: router: handler %q: %w", h.Name, err)
		}
		seen[h.Name] = true
	}
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: o.CloseTimeout}, watermill.NewSlogLogger(o.Log))
	if err != nil {
		return nil, fmt.Errorf("bus: router: %w", err)
	}
	r.AddMiddleware(middleware.Recoverer, Correlation())
	for _, h := range hs {
		wh := r.AddConsumerHandler(h.Name, h.Topic, sub, h.Func)
		log := o.Log.With("handler", h.Name, "topic", h.Topic)
		mw := []message.HandlerMiddleware{
			deadLetter(o.Sink, h.Topic, h.Name, log, o.Metrics),
			// a panic is a bug that a retry will not fix: dead-letter it
			// (the router's Recoverer would nack it forever)
			panicAsPermanent(log),
			Retry(o.Retry, log),
		}
		if h.Timeout > 0 {
			mw = append(mw, Timeout(h.Timeout))
		}
		if o.Breakers != nil && h.Partner != "" {
			mw = append(mw, o.Breakers.Middleware(h.Partner))
		}
		wh.AddMiddleware(mw...)
	}
	return r, nil
}

// panicAsPermanent turns a handler panic into an error wrapping
// adapters.ErrPermanent, so the message is dead-lettered at once instead
// of being redelivered forever.
func panicAsPermanent(log *slog.Logger) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) (out []*message.Message, err error) {
			defer func() {
				if p := recover(); p != nil {
					log.Error("handler panicked", "messageId", msg.UUID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					out, err = nil, fmt.Errorf("%w: handler panicked: %v", adapters.ErrPermanent, p)
				}
			}()
			return h(msg)
		}
	}
}
