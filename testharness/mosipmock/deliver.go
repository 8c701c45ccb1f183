package mosipmock

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/crvshub/crvshub/adapters/mosip/mosipcrypto"
)

// Delivery retries: a delivery answered by a network error or a non-2xx
// status is retried (MOSIP's Kafka-backed hub resumes delivery when a
// subscriber becomes available again) with a backoff from 200 ms doubling
// up to 2 s, deliveryAttempts times in all (about a minute).
const (
	deliveryAttempts   = 30
	deliveryBackoffMin = 200 * time.Millisecond
	deliveryBackoffMax = 2 * time.Second
	maxPending         = 10000
)

// scheduleCredential issues the VID (births) now and delivers the
// credential after CallbackDelay, unless the profile says never.
func (m *Mock) scheduleCredential(packetID string, p *packet) {
	prof := m.currentProfile()
	if p.process == processBirth {
		m.mu.Lock()
		if m.vids[packetID] == "" {
			m.vids[packetID] = randomDigits(10)
		}
		m.mu.Unlock()
	}
	if prof.NeverCallBack {
		m.log.Info("mosip mock: credential withheld (NeverCallBack)", "packetId", packetID)
		return
	}
	m.background(func() {
		if prof.CallbackDelay > 0 {
			t := time.NewTimer(prof.CallbackDelay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-m.ctx.Done():
				return
			}
		}
		body, err := m.credentialEvent(packetID, p, prof)
		if err != nil {
			m.log.Error("mosip mock: credential not built", "packetId", packetID, "error", err)
			return
		}
		times := 1
		if prof.CallBackTwice {
			times = 2
		}
		for range times {
			m.publish(body)
		}
	})
}

// background runs f in a goroutine that Close waits for (not after Close).
func (m *Mock) background(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

// credentialEvent builds the CREDENTIAL_ISSUED WebSub body (research §1
// item 10) carrying the VER_R2-encrypted, PS256-signed VC.
func (m *Mock) credentialEvent(packetID string, p *packet, prof Profile) ([]byte, error) {
	subjectID := packetID
	if prof.UnknownPacket {
		subjectID = "99999" + randomDigits(24)
	}
	subject := map[string]any{"id": "http://credential.idrepo/credentials/" + subjectID, "vcVer": "VC-V1"}
	if p.process == processBirth {
		m.mu.Lock()
		vid := m.vids[packetID]
		m.mu.Unlock()
		subject["birthCertificateNumber"] = p.fields["birthCertificateNumber"]
		subject["VID"] = vid
	}
	base := m.URL()
	now := time.Now().UTC()
	vc := map[string]any{
		"@context":          []any{"https://www.w3.org/2018/credentials/v1", base + "/.well-known/mosip-context.json", map[string]any{"sec": "https://w3id.org/security#"}},
		"type":              []any{"VerifiableCredential", "MOSIPVerifiableCredential"},
		"id":                "http://mosip.io/credentials/" + newUUID(),
		"issuer":            base + "/.well-known/controller.json",
		"issuanceDate":      now.Format("2006-01-02T15:04:05.000Z"),
		"credentialSubject": subject,
	}
	signed, err := mosipcrypto.SignCredential(m.key, m.PublicKeyURL(), vc, now)
	if err != nil {
		return nil, err
	}
	if prof.BadSignature {
		proof := signed["proof"].(map[string]any)
		proof["jws"] = corruptSignature(proof["jws"].(string))
	}
	plain, err := json.Marshal(signed)
	if err != nil {
		return nil, fmt.Errorf("marshal credential: %w", err)
	}
	cred, err := mosipcrypto.EncryptCredentialForCert(m.cfg.PartnerCert, plain)
	if err != nil {
		return nil, err
	}
	ts := now.Format("2006-01-02T15:04:05.000Z")
	return json.Marshal(map[string]any{
		"publisher": "CREDENTIAL_SERVICE", "topic": m.cfg.Topic, "publishedOn": ts,
		"event": map[string]any{
			"id": newUUID(), "transactionId": newUUID(), "type": map[string]string{"namespace": "mosip", "name": "mosip"},
			"timestamp": ts,
			"data": map[string]any{
				"registrationId": subjectID, "credential": cred, "credentialType": "vercred", "protectionKey": "",
				"templateTypeCode": "RPR_UIN_CARD_TEMPLATE", "ExpiryTimestamp": now.AddDate(1, 0, 0).Format("2006-01-02T15:04:05.000Z"),
				"TransactionLimit": nil,
			},
		},
	})
}

// corruptSignature changes the first character of the JWS signature part.
func corruptSignature(jws string) string {
	i := strings.LastIndexByte(jws, '.') + 1
	if i <= 0 || i >= len(jws) {
		return jws + "x"
	}
	c := byte('A')
	if jws[i] == 'A' {
		c = 'B'
	}
	return jws[:i] + string(c) + jws[i+1:]
}

// publish POSTs body to every live subscriber of the topic; with none, the
// event is kept and delivered to the next subscriber (the hub persists
// events in Kafka).
func (m *Mock) publish(body []byte) {
	now := time.Now()
	var subs []subscription
	m.mu.Lock()
	for _, s := range m.subs {
		if s.topic == m.cfg.Topic && now.Before(s.expires) {
			subs = append(subs, *s)
		}
	}
	if len(subs) == 0 {
		if len(m.pending) < maxPending {
			m.pending = append(m.pending, body)
		}
		m.mu.Unlock()
		m.log.Warn("mosip mock: credential issued while nobody is subscribed; kept for the next subscriber", "topic", m.cfg.Topic)
		return
	}
	m.mu.Unlock()
	for _, s := range subs {
		m.deliverTo(s, body)
	}
}

// flushPending delivers the events kept while nobody was subscribed to the
// new subscriber s.
func (m *Mock) flushPending(s subscription) {
	m.mu.Lock()
	pending := m.pending
	m.pending = nil
	m.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	m.background(func() {
		for _, body := range pending {
			m.deliverTo(s, body)
		}
	})
}

// deliverTo sends one delivery (with retries on transport errors and
// non-2xx answers) and counts it as acknowledged when the subscriber
// answers 200 with event.status RECEIVED.
func (m *Mock) deliverTo(s subscription, body []byte) {
	for attempt := 1; attempt <= deliveryAttempts; attempt++ {
		m.count(func(st *Stats) { st.CallbacksSent++ })
		status, ack, err := m.post(s, body)
		if err == nil && status >= 200 && status <= 299 {
			var a struct {
				Event struct {
					Status string `json:"status"`
				} `json:"event"`
			}
			if status == http.StatusOK && json.Unmarshal(ack, &a) == nil && a.Event.Status == "RECEIVED" {
				m.count(func(st *Stats) { st.CallbacksAcked++ })
			} else {
				m.log.Warn("mosip mock: delivery not acknowledged", "callback", s.callback, "status", status, "answer", truncate(string(ack), 300))
			}
			return
		}
		m.log.Warn("mosip mock: delivery failed", "callback", s.callback, "attempt", attempt, "status", status, "error", err)
		if attempt == deliveryAttempts {
			m.log.Error("mosip mock: delivery abandoned", "callback", s.callback, "attempts", attempt)
			return
		}
		wait := min(deliveryBackoffMin<<(attempt-1), deliveryBackoffMax)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-m.ctx.Done():
			t.Stop()
			return
		}
	}
}

func (m *Mock) post(s subscription, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.callback, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.secret != "" {
		req.Header.Set("X-Hub-Signature", HubSignature(s.secret, body))
	}
	res, err := m.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	ack, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, ack, err
}

// HubSignature is the WebSub X-Hub-Signature value "sha256=<hex HMAC>".
func HubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
