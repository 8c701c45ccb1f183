package mosip

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/crvshub/crvshub/core"
)

// Start subscribes the callback to the topic at the WebSub hub and keeps
// the subscription alive: it re-subscribes at 80% of the lease and, when a
// subscription fails, retries with exponential backoff (cenkalti/backoff:
// 1 s doubling up to 5 min, each wait spread by +-20%).
// The hub verifies the intent by calling CallbackHandler (GET), so the
// hub's HTTP server must be serving it. Start blocks until ctx ends (run
// it in a goroutine) and then returns nil. A subscription counts only once
// the hub has verified the intent (within 2 minutes); otherwise it is
// retried like a failed one.
func (a *Adapter) Start(ctx context.Context) error {
	retry := &backoff.ExponentialBackOff{InitialInterval: a.backoffMin, Multiplier: 2,
		MaxInterval: a.backoffMax, RandomizationFactor: 0.2}
	retry.Reset()
	for {
		select { // forget a confirmation of an earlier subscription
		case <-a.intentVerified:
		default:
		}
		err := a.subscribe(ctx)
		if err == nil {
			err = a.awaitIntent(ctx)
		}
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		if err != nil {
			wait = retry.NextBackOff()
			a.cfg.Log.WarnContext(ctx, "mosip websub subscription failed, will retry", "topic", a.cfg.Topic,
				"retryIn", wait.String(), "error", err)
		} else {
			retry.Reset()
			wait = time.Duration(a.cfg.LeaseSeconds) * time.Second * 8 / 10
			a.cfg.Log.InfoContext(ctx, "mosip websub subscribed", "topic", a.cfg.Topic,
				"leaseSeconds", a.cfg.LeaseSeconds, "renewIn", wait.String())
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// awaitIntent waits for the hub's intent verification of the
// subscription just requested: a hub that accepted the request but could
// not reach the callback has not subscribed us.
func (a *Adapter) awaitIntent(ctx context.Context) error {
	t := time.NewTimer(a.intentWait)
	defer t.Stop()
	select {
	case <-a.intentVerified:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("the hub did not verify the intent at %s within %s", a.cfg.CallbackURL, a.intentWait)
	}
}

// subscribe sends one hub.mode=subscribe request (form-urlencoded, the
// WebSub client's token as Authorization header and cookie).
func (a *Adapter) subscribe(ctx context.Context) error {
	form := url.Values{
		"hub.mode":          {"subscribe"},
		"hub.topic":         {a.cfg.Topic},
		"hub.callback":      {a.cfg.CallbackURL},
		"hub.lease_seconds": {strconv.Itoa(a.cfg.LeaseSeconds)},
	}
	if a.cfg.WebSubSecret != "" {
		form.Set("hub.secret", a.cfg.WebSubSecret)
	}
	// before the request: a hub may verify before it answers
	a.expectIntent("subscribe", a.cfg.Topic)
	_, err := a.send(ctx, call{name: "websub subscribe", method: http.MethodPost, url: a.cfg.WebSubHubURL,
		body: []byte(form.Encode()), ctype: "application/x-www-form-urlencoded", tokens: a.websubTokens,
		authHeader: true, textOK: true, corrID: core.RequestMetaFrom(ctx).CorrelationID})
	return err
}

// CallbackHandler serves the WebSub callback: GET is the hub's intent
// verification, POST a CREDENTIAL_ISSUED delivery.
func (a *Adapter) CallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			a.verifyIntent(w, r)
		case http.MethodPost:
			a.deliver(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// expectIntent notes that the adapter asked the hub for mode on topic: the
// hub's verification of it is answered for the next intentWait.
func (a *Adapter) expectIntent(mode, topic string) {
	a.intentMu.Lock()
	defer a.intentMu.Unlock()
	a.intents[mode+"\x00"+topic] = a.now().Add(a.intentWait)
}

// intentExpected reports whether the adapter asked for mode on topic
// within the last intentWait.
func (a *Adapter) intentExpected(mode, topic string) bool {
	a.intentMu.Lock()
	defer a.intentMu.Unlock()
	until, ok := a.intents[mode+"\x00"+topic]
	return ok && a.now().Before(until)
}

// verifyIntent answers the hub's intent verification: a hub.mode
// subscribe or unsubscribe on Topic that this adapter requested in the
// last intentWait (Start only subscribes: an unsubscribe is never
// confirmed), with a hub.challenge, is answered with the challenge;
// anything else is refused (404 for an intent the adapter did not ask
// for, as WebSub says), so that nobody can confirm a subscription change
// in the hub's name.
func (a *Adapter) verifyIntent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	mode, topic, challenge := q.Get("hub.mode"), q.Get("hub.topic"), q.Get("hub.challenge")
	switch {
	case mode == "denied":
		a.cfg.Log.WarnContext(r.Context(), "mosip websub subscription denied by the hub", "topic", topic,
			"reason", truncate(q.Get("hub.reason"), 200))
		http.Error(w, "denial noted", http.StatusBadRequest)
		return
	case mode != "subscribe" && mode != "unsubscribe":
		http.Error(w, "hub.mode must be subscribe or unsubscribe", http.StatusBadRequest)
		return
	case challenge == "":
		http.Error(w, "Missing hub.challenge", http.StatusBadRequest)
		return
	case topic != a.cfg.Topic:
		a.cfg.Log.WarnContext(r.Context(), "mosip websub intent verification for another topic refused", "topic", truncate(topic, 200))
		http.Error(w, "unknown topic", http.StatusNotFound)
		return
	case !a.intentExpected(mode, topic):
		a.cfg.Log.WarnContext(r.Context(), "mosip websub intent verification the hub did not request refused", "mode", mode, "topic", topic)
		http.Error(w, "no such request was made", http.StatusNotFound)
		return
	}
	a.cfg.Log.InfoContext(r.Context(), "mosip websub intent verified", "mode", mode, "topic", topic)
	if mode == "subscribe" {
		select {
		case a.intentVerified <- struct{}{}:
		default:
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(challenge))
}
