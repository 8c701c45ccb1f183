package mosipmock

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// defaultLease is the lease when hub.lease_seconds is absent (10 days).
const defaultLease = 10 * 24 * time.Hour

// hub is POST /websub/hub (form: hub.mode, hub.topic, hub.callback,
// hub.secret, hub.lease_seconds). The intent is verified synchronously
// with a GET on the callback that must echo hub.challenge exactly.
func (m *Mock) hub(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		hubError(w, http.StatusBadRequest, "the body is not a form: "+err.Error())
		return
	}
	mode, topic, callback := r.PostForm.Get("hub.mode"), r.PostForm.Get("hub.topic"), r.PostForm.Get("hub.callback")
	if mode != "subscribe" && mode != "unsubscribe" {
		hubError(w, http.StatusBadRequest, "hub.mode must be subscribe or unsubscribe")
		return
	}
	if topic != m.cfg.Topic {
		hubError(w, http.StatusBadRequest, fmt.Sprintf("topic %q is not registered", truncate(topic, 100)))
		return
	}
	u, err := url.Parse(callback)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		hubError(w, http.StatusBadRequest, "hub.callback must be an absolute http(s) URL")
		return
	}
	lease := defaultLease
	if s := r.PostForm.Get("hub.lease_seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			hubError(w, http.StatusBadRequest, "hub.lease_seconds must be a positive integer")
			return
		}
		lease = time.Duration(n) * time.Second
	}
	if err := m.verifyIntent(r.Context(), mode, topic, callback, lease); err != nil {
		m.log.Warn("mosip mock: websub intent verification failed", "mode", mode, "callback", callback, "error", err)
		hubError(w, http.StatusBadRequest, "intent verification failed: "+err.Error())
		return
	}
	key := topic + " " + callback
	sub := subscription{topic: topic, callback: callback, secret: r.PostForm.Get("hub.secret"), expires: time.Now().Add(lease)}
	m.mu.Lock()
	if mode == "subscribe" {
		m.subs[key] = &sub
	} else {
		delete(m.subs, key)
	}
	m.mu.Unlock()
	if mode == "subscribe" {
		m.flushPending(sub)
	}
	m.log.Info("mosip mock: websub "+mode, "topic", topic, "callback", callback, "lease", lease.String())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	if mode == "subscribe" {
		_, _ = io.WriteString(w, "Subscribed successfully.")
	} else {
		_, _ = io.WriteString(w, "Unsubscribed successfully.")
	}
}

func hubError(w http.ResponseWriter, status int, msg string) {
	writeError(w, status, "", "WSH-SUB-400", msg)
}

// verifyIntent GETs the callback with a random challenge and requires a
// 2xx answer whose body is exactly the challenge.
func (m *Mock) verifyIntent(ctx context.Context, mode, topic, callback string, lease time.Duration) error {
	challenge := newUUID()
	u, _ := url.Parse(callback)
	q := u.Query()
	q.Set("hub.mode", mode)
	q.Set("hub.topic", topic)
	q.Set("hub.challenge", challenge)
	q.Set("hub.lease_seconds", strconv.Itoa(int(lease/time.Second)))
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	res, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("callback unreachable: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4096))
	if err != nil {
		return fmt.Errorf("callback answer unreadable: %w", err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("callback answered HTTP %d", res.StatusCode)
	}
	if string(body) != challenge {
		return fmt.Errorf("callback did not echo the challenge")
	}
	return nil
}
