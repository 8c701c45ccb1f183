package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/cenkalti/backoff/v5"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/core"
)

// ErrUnavailable marks a partner that cannot be called now (its breaker is
// open): the message is not retried in process nor dead-lettered, it is
// nacked and redelivered later.
var ErrUnavailable = errors.New("partner unavailable")

// Correlation ensures the message has metadata "correlation_id" (a new
// UUID when missing), copies it to the messages the handler produces
// (middleware.CorrelationID semantics) and puts it into msg.Context() as
// core.RequestMeta so handlers, adapters and logs see it.
func Correlation() message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			id := middleware.MessageCorrelationID(msg)
			if id == "" {
				id = watermill.NewUUID()
				middleware.SetCorrelationID(id, msg)
			}
			meta := core.RequestMetaFrom(msg.Context())
			meta.CorrelationID = id
			msg.SetContext(core.WithRequestMeta(msg.Context(), meta))
			return middleware.CorrelationID(h)(msg)
		}
	}
}

// Timeout cancels the message's context after d (handlers must watch it).
func Timeout(d time.Duration) message.HandlerMiddleware {
	return middleware.Timeout(d)
}

// RetryPolicy is an exponential back-off with jitter: the n-th retry waits
// InitialInterval*Multiplier^(n-1), capped at MaxInterval, then spread by
// ±RandomizationFactor.
type RetryPolicy struct {
	MaxRetries          int           // retries after the first attempt
	InitialInterval     time.Duration // default 100ms
	MaxInterval         time.Duration // default 10s
	Multiplier          float64       // default 2
	RandomizationFactor float64       // 0..1; default 0 (no jitter)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.InitialInterval <= 0 {
		p.InitialInterval = 100 * time.Millisecond
	}
	if p.MaxInterval <= 0 {
		p.MaxInterval = 10 * time.Second
	}
	if p.MaxInterval < p.InitialInterval {
		p.MaxInterval = p.InitialInterval
	}
	if p.Multiplier < 1 {
		p.Multiplier = 2
	}
	p.RandomizationFactor = min(max(p.RandomizationFactor, 0), 1)
	return p
}

// Backoff is the wait before retry n (1-based), jitter included, as the
// Retry middleware draws it (cenkalti/backoff's exponential back-off,
// the one Watermill's Retry runs).
func (p RetryPolicy) Backoff(n int) time.Duration {
	b := p.withDefaults().expBackoff()
	var d time.Duration
	for range max(n, 1) {
		d = b.NextBackOff()
	}
	return d
}

func (p RetryPolicy) expBackoff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: p.InitialInterval, MaxInterval: p.MaxInterval,
		Multiplier: p.Multiplier, RandomizationFactor: p.RandomizationFactor}
}

// MaxBackoff is the longest wait Backoff(n) may return (jitter at its
// upper bound).
func (p RetryPolicy) MaxBackoff(n int) time.Duration {
	p = p.withDefaults()
	return time.Duration(p.base(n) * (1 + p.RandomizationFactor))
}

// MaxWaits is the longest a message may spend waiting between its
// attempts: the sum of MaxBackoff over its MaxRetries retries.
func (p RetryPolicy) MaxWaits() time.Duration {
	var d time.Duration
	for n := 1; n <= p.MaxRetries; n++ {
		d += p.MaxBackoff(n)
	}
	return d
}

// base is the wait before retry n without jitter (p has its defaults).
func (p RetryPolicy) base(n int) float64 {
	d := float64(p.InitialInterval)
	for i := 1; i < n && d < float64(p.MaxInterval); i++ {
		d *= p.Multiplier
	}
	return min(d, float64(p.MaxInterval))
}

// attemptsError carries how many times the handler ran.
type attemptsError struct {
	err      error
	attempts int
}

func (e *attemptsError) Error() string { return e.err.Error() }
func (e *attemptsError) Unwrap() error { return e.err }

// attempts returns how many times the handler ran for err (1 when no
// Retry middleware counted).
func attempts(err error) int {
	var ae *attemptsError
	if errors.As(err, &ae) {
		return ae.attempts
	}
	return 1
}

// retryable reports whether an in-process retry can help.
func retryable(err error) bool {
	return !errors.Is(err, ErrUnavailable) && !adapters.IsPermanent(err) && !errors.Is(err, context.Canceled)
}

// Retry retries the handler in process (the message stays unacked) with
// p's back-off: Watermill's middleware.Retry. Errors wrapping
// ErrUnavailable or adapters.ErrPermanent are returned at once. Each
// attempt starts from the message's original context
// (ResetContextOnRetry), so a Timeout inside Retry applies per attempt.
// The returned error records the attempt count for DeadLetter.
func Retry(p RetryPolicy, log *slog.Logger) message.HandlerMiddleware {
	if log == nil {
		log = slog.Default()
	}
	p = p.withDefaults()
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			ctx := msg.Context()
			var n int      // attempts made
			var last error // the handler's last error
			attempt := func(msg *message.Message) ([]*message.Message, error) {
				n++
				out, err := h(msg)
				if err == nil {
					return out, nil
				}
				last = err
				if !retryable(err) {
					return out, backoff.Permanent(err) // not retried; Watermill unwraps it
				}
				if n <= p.MaxRetries {
					log.WarnContext(ctx, "handler failed; retrying", "message_id", msg.UUID,
						"correlation_id", core.RequestMetaFrom(ctx).CorrelationID, "attempt", n, "error", err)
				}
				return out, err
			}
			// Neither ShouldRetry nor OnRetryHook: Watermill draws an
			// extra back-off for each call of them, which would make the
			// waits longer than MaxWaits (the AckWait budget) says.
			out, err := middleware.Retry{
				MaxRetries:          max(p.MaxRetries, 0),
				InitialInterval:     p.InitialInterval,
				MaxInterval:         p.MaxInterval,
				Multiplier:          p.Multiplier,
				RandomizationFactor: p.RandomizationFactor,
				ResetContextOnRetry: true,
			}.Middleware(attempt)(msg)
			msg.SetContext(ctx) // not the last attempt's (a Timeout's, cancelled)
			switch {
			case err == nil:
				return out, nil
			case last != nil && !errors.Is(err, last):
				// the context ended between attempts: the handler's error, and why no retry
				err = fmt.Errorf("%w (retry stopped: %w)", last, err)
			}
			return out, &attemptsError{err: err, attempts: max(n, 1)}
		}
	}
}

// DeadLetter is the poison queue. When the handler (after Retry gave up,
// or at once for a permanent error) fails, it stores the message with its
// error and attempt count through sink and returns nil, so the message is
// acked. Errors wrapping ErrUnavailable are returned (nack: redelivered
// after NakDelay while the partner is down), as is a failure to store the
// dead letter: a message is never lost.
func DeadLetter(sink core.DeadLetterSink, topic, handler string, log *slog.Logger) message.HandlerMiddleware {
	return deadLetter(sink, topic, handler, log, nil)
}

func deadLetter(sink core.DeadLetterSink, topic, handler string, log *slog.Logger, m *Metrics) message.HandlerMiddleware {
	if log == nil {
		log = slog.Default()
	}
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err == nil {
				return out, nil
			}
			ctx := msg.Context()
			attrs := []any{"topic", topic, "handler", handler, "message_id", msg.UUID,
				"correlation_id", msg.Metadata.Get(middleware.CorrelationIDMetadataKey), "error", err}
			if errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) && ctx.Err() != nil {
				log.WarnContext(ctx, "handler deferred; message stays queued", attrs...)
				return nil, err
			}
			md := make(map[string]string, len(msg.Metadata))
			for k, v := range msg.Metadata {
				md[k] = v
			}
			d := core.DeadLetter{
				ID:       msg.UUID,
				Topic:    topic,
				Handler:  handler,
				Payload:  append([]byte(nil), msg.Payload...),
				Metadata: md,
				Error:    err.Error(),
				Attempts: attempts(err),
				FailedAt: time.Now().UTC(),
			}
			// The message context may be cancelled (timeout): store anyway.
			if serr := sink.PutDeadLetter(context.WithoutCancel(ctx), d); serr != nil {
				log.ErrorContext(ctx, "dead letter not stored; message nacked", append(attrs, "store_error", serr)...)
				return nil, fmt.Errorf("store dead letter: %w (handler: %w)", serr, err)
			}
			m.deadLetter(handler)
			log.ErrorContext(ctx, "message dead-lettered", append(attrs, "attempts", d.Attempts)...)
			return nil, nil
		}
	}
}
