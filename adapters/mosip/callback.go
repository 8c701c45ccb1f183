package mosip

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/crvshub/crvshub/adapters"
	"github.com/crvshub/crvshub/adapters/mosip/mosipcrypto"
	"github.com/crvshub/crvshub/core"
)

// MaxDelivery bounds a WebSub delivery's body.
const MaxDelivery = 4 << 20

// delivery is a CREDENTIAL_ISSUED WebSub delivery (research §1 item 10).
type delivery struct {
	Publisher   string `json:"publisher"`
	Topic       string `json:"topic"`
	PublishedOn string `json:"publishedOn"`
	Event       struct {
		ID            string `json:"id"`
		TransactionID string `json:"transactionId"`
		Timestamp     string `json:"timestamp"`
		Data          struct {
			RegistrationID string `json:"registrationId"`
			Credential     string `json:"credential"`
			CredentialType string `json:"credentialType"`
		} `json:"data"`
	} `json:"event"`
}

// ack is the answer MOSIP expects (research §1 item 15), always HTTP 200.
type ack struct {
	Publisher   string   `json:"publisher"`
	Topic       string   `json:"topic"`
	PublishedOn string   `json:"publishedOn"`
	Event       ackEvent `json:"event"`
}

type ackEvent struct {
	ID        string `json:"id"`
	RequestID string `json:"requestId"`
	Timestamp string `json:"timestamp"`
	Status    string `json:"status"` // RECEIVED or ERROR
	URL       string `json:"url"`
}

// Ack statuses.
const (
	statusReceived = "RECEIVED"
	statusError    = "ERROR"
)

// refusal is why a delivery was not applied; packetID when known.
type refusal struct {
	reason   string
	packetID string
	err      error
}

// deliver handles a CREDENTIAL_ISSUED POST: signature, topic, decryption,
// proof, correlation, Resolve, and only then DeleteCorrelation.
func (a *Adapter) deliver(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var d delivery
	ref := a.applyDelivery(ctx, w, r, &d)
	status := statusReceived
	if ref != nil {
		status = statusError
		args := []any{"reason", ref.reason, "packetId", ref.packetID, "deliveryId", truncate(d.Event.ID, 100)}
		if ref.err != nil {
			args = append(args, "error", ref.err.Error())
		}
		a.cfg.Log.WarnContext(ctx, "mosip credential delivery refused", args...)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(ack{
		Publisher: d.Publisher, Topic: d.Topic, PublishedOn: d.PublishedOn,
		Event: ackEvent{ID: d.Event.ID, RequestID: d.Event.TransactionID, Timestamp: a.requestTime(), Status: status},
	})
}

// applyDelivery does the work of deliver; nil means applied.
func (a *Adapter) applyDelivery(ctx context.Context, w http.ResponseWriter, r *http.Request, d *delivery) *refusal {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxDelivery))
	if err != nil {
		return &refusal{reason: "body unreadable or larger than 4 MiB", err: err}
	}
	if a.cfg.WebSubSecret != "" && !validHubSignature(a.cfg.WebSubSecret, r.Header.Get("X-Hub-Signature"), body) {
		return &refusal{reason: "missing or bad X-Hub-Signature"}
	}
	if err := json.Unmarshal(body, d); err != nil {
		*d = delivery{}
		return &refusal{reason: "body is not a WebSub event", err: err}
	}
	if d.Topic != a.cfg.Topic {
		return &refusal{reason: fmt.Sprintf("topic %q is not %q", truncate(d.Topic, 100), a.cfg.Topic)}
	}
	if d.Event.Data.Credential == "" {
		return &refusal{reason: "no credential in the event", packetID: d.Event.Data.RegistrationID}
	}
	plain, err := mosipcrypto.DecryptCredential(a.cfg.DecryptKey, d.Event.Data.Credential)
	if err != nil {
		return &refusal{reason: "credential cannot be decrypted", packetID: d.Event.Data.RegistrationID, err: err}
	}
	var used string
	keyFor := func(method string) (*rsa.PublicKey, error) {
		used = method
		return a.keys.keyFor(ctx, method)
	}
	vc, err := mosipcrypto.VerifyCredential(plain, keyFor)
	if err != nil && used != "" && a.keys.dropStale(used) {
		vc, err = mosipcrypto.VerifyCredential(plain, keyFor) // MOSIP may have rotated its key
	}
	if err != nil {
		return &refusal{reason: "credential proof not valid", packetID: d.Event.Data.RegistrationID, err: err}
	}
	subject, _ := vc["credentialSubject"].(map[string]any)
	packetID := packetIDOf(subject)
	if packetID == "" {
		return &refusal{reason: "credentialSubject.id names no packet", packetID: d.Event.Data.RegistrationID}
	}
	corr, err := a.corr.Correlation(ctx, partnerName, packetID)
	if errors.Is(err, core.ErrNotFound) {
		return &refusal{reason: "unknown packet (no correlation; already resolved or never sent)", packetID: packetID}
	}
	if err != nil {
		return &refusal{reason: "correlation lookup failed", packetID: packetID, err: err}
	}
	out, ref := a.outcomeFor(corr, subject, packetID)
	if ref != nil {
		return ref
	}
	if corr.CorrelationID != "" {
		// the accept is recorded under the id of the request that asked
		// for the registration, so the audit trail links the two
		m := core.RequestMetaFrom(ctx)
		m.CorrelationID = corr.CorrelationID
		ctx = core.WithRequestMeta(ctx, m)
	}
	if err := a.res.Resolve(ctx, corr.EventID, corr.ActionID, out); err != nil {
		return &refusal{reason: "resolving the action failed; correlation kept", packetID: packetID, err: err}
	}
	// The hub's Resolver deletes the correlation with the resolution (one
	// transaction); deleting here too covers Resolvers that do not. The
	// packet id belongs to the record, so a newer action (a REGISTER made
	// again after an operator's reject) may have taken the correlation over
	// meanwhile: that one is kept, or MOSIP's credential for it would find
	// no correlation.
	if cur, err := a.corr.Correlation(ctx, partnerName, packetID); err == nil && cur.ActionID != corr.ActionID {
		a.cfg.Log.InfoContext(ctx, "mosip correlation now names a newer action; kept", "packetId", packetID,
			"resolvedActionId", corr.ActionID, "actionId", cur.ActionID)
	} else if err := a.corr.DeleteCorrelation(ctx, partnerName, packetID); err != nil {
		// The action is resolved; a left-over correlation only makes a
		// redelivery resolve again, which the Resolver treats as a no-op.
		a.cfg.Log.WarnContext(ctx, "mosip correlation not deleted after resolving", "packetId", packetID, "error", err)
	}
	a.cfg.Log.InfoContext(ctx, "mosip credential accepted", "packetId", packetID, "eventId", corr.EventID,
		"actionId", corr.ActionID, "correlationId", corr.CorrelationID)
	return nil
}

// outcomeFor builds the Accepted outcome: a birth gets the VID in
// NIDField; a death nothing.
func (a *Adapter) outcomeFor(corr *core.Correlation, subject map[string]any, packetID string) (adapters.Outcome, *refusal) {
	var data correlationData
	_ = json.Unmarshal(corr.Data, &data)
	out := adapters.Outcome{Kind: adapters.Accepted, Reference: packetID, RegistrationNumber: corr.RegistrationNumber, Correlation: corr}
	if bcn, ok := subject["birthCertificateNumber"].(string); ok && bcn != "" && corr.RegistrationNumber != "" && bcn != corr.RegistrationNumber {
		return out, &refusal{reason: "credential's birthCertificateNumber is not the registration number sent", packetID: packetID}
	}
	vid, _ := subject["VID"].(string)
	if data.EventType == "death" || (data.EventType == "" && vid == "") {
		return out, nil
	}
	if vid == "" {
		return out, &refusal{reason: "birth credential without a VID", packetID: packetID}
	}
	raw, _ := json.Marshal(vid)
	out.Declaration = core.Declaration{a.cfg.NIDField: raw}
	return out, nil
}

// packetIDOf is the last path segment of credentialSubject.id.
func packetIDOf(subject map[string]any) string {
	id, _ := subject["id"].(string)
	if id == "" {
		return ""
	}
	if u, err := url.Parse(id); err == nil && u.Path != "" {
		id = u.Path
	}
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexAny(id, "/:"); i >= 0 {
		id = id[i+1:]
	}
	return id
}

// validHubSignature checks X-Hub-Signature: sha256=<hex HMAC of body>.
func validHubSignature(secret, header string, body []byte) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
