package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/crvshub/crvshub/core"
)

// Audit operations written by Clients.
const (
	OpClientCreate       = "client.create"
	OpClientDisable      = "client.disable"
	OpClientEnable       = "client.enable"
	OpClientRotateSecret = "client.rotate-secret"
	// AuditObjectClient is the audit object type of a client.
	AuditObjectClient = "client"
)

// maxClientName bounds a client's name, in characters.
const maxClientName = 200

// Clients manages system clients in the store. Every change is audited in
// the same store.Write as the change itself. Clients does not check the
// actor's scopes: the caller (HTTP handler or CLI) does.
type Clients struct {
	Store core.Store
	Now   func() time.Time // nil = time.Now
	// Cost is the bcrypt cost of new secret hashes; 0 = bcrypt.DefaultCost.
	Cost int
	// Throttle, when set, refuses authentications of a (client id,
	// source) or a source that failed too often (the source is the
	// request's remote address, core.RequestMetaFrom).
	Throttle *Throttle

	dummyOnce sync.Once
	dummyHash string
}

func (c *Clients) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Clients) cost() int {
	if c.Cost != 0 {
		return c.Cost
	}
	return bcrypt.DefaultCost
}

// Create registers a new active client and answers its id (a UUID) and
// secret; the secret is shown only here. name must be non-empty, there
// must be at least one scope and each must parse (v2, v1.9 bracket or
// legacy form; stored in canonical v2 form); office, if given, must be a
// UUID. Validation failures are *core.Error of KindInvalid.
func (c *Clients) Create(ctx context.Context, name string, scopes []string, office string, actor core.Principal) (clientID, secret string, err error) {
	name = strings.TrimSpace(name)
	if err := validateName(name); err != nil {
		return "", "", err
	}
	canon, err := canonicalScopes(scopes)
	if err != nil {
		return "", "", err
	}
	office = strings.TrimSpace(office)
	if office != "" {
		if _, err := uuid.Parse(office); err != nil {
			return "", "", core.Errorf(core.KindInvalid, "INVALID_OFFICE", "office %q is not a UUID", office)
		}
	}
	secret, err = NewSecret()
	if err != nil {
		return "", "", err
	}
	hash, err := HashSecretCost(secret, c.cost())
	if err != nil {
		return "", "", err
	}
	now := c.now()
	cl := &core.Client{
		ID:         uuid.NewString(),
		Name:       name,
		SecretHash: hash,
		Scopes:     canon,
		Office:     office,
		Status:     core.ClientActive,
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	detail, err := json.Marshal(map[string]any{"name": cl.Name, "scopes": cl.Scopes, "office": cl.Office})
	if err != nil {
		return "", "", fmt.Errorf("auth: audit detail: %w", err)
	}
	err = c.Store.Write(ctx, func(tx core.Tx) error {
		if err := tx.PutClient(cl); err != nil {
			return fmt.Errorf("store client: %w", err)
		}
		return tx.Audit(auditEntry(ctx, actor, OpClientCreate, cl.ID, now, detail))
	})
	if err != nil {
		return "", "", fmt.Errorf("auth: create client: %w", err)
	}
	return cl.ID, secret, nil
}

// Disable sets the client's status to disabled: its secret and every
// token already issued to it stop working at once. Disabling a disabled
// client changes nothing. An unknown id is a *core.Error of KindNotFound.
func (c *Clients) Disable(ctx context.Context, id string, actor core.Principal) error {
	return c.setStatus(ctx, id, core.ClientDisabled, OpClientDisable, actor)
}

// Enable sets the client's status back to active. Tokens issued before it
// stay refused (their iat is before the client's UpdatedAt).
func (c *Clients) Enable(ctx context.Context, id string, actor core.Principal) error {
	return c.setStatus(ctx, id, core.ClientActive, OpClientEnable, actor)
}

func (c *Clients) setStatus(ctx context.Context, id string, status core.ClientStatus, op string, actor core.Principal) error {
	now := c.now()
	err := c.Store.Write(ctx, func(tx core.Tx) error {
		cl, err := txClient(tx, id)
		if err != nil {
			return err
		}
		if cl.Status == status {
			return nil
		}
		cl.Status = status
		cl.UpdatedAt = now
		if err := tx.PutClient(cl); err != nil {
			return fmt.Errorf("store client: %w", err)
		}
		return tx.Audit(auditEntry(ctx, actor, op, cl.ID, now, nil))
	})
	if err != nil {
		return fmt.Errorf("auth: %s: %w", op, err)
	}
	return nil
}

// RotateSecret gives the client a new secret and answers it; the old
// secret stops working at once, and so do the tokens already issued (the
// Authenticator refuses tokens issued before the client's UpdatedAt).
func (c *Clients) RotateSecret(ctx context.Context, id string, actor core.Principal) (string, error) {
	secret, err := NewSecret()
	if err != nil {
		return "", err
	}
	hash, err := HashSecretCost(secret, c.cost())
	if err != nil {
		return "", err
	}
	now := c.now()
	err = c.Store.Write(ctx, func(tx core.Tx) error {
		cl, err := txClient(tx, id)
		if err != nil {
			return err
		}
		cl.SecretHash = hash
		cl.UpdatedAt = now
		if err := tx.PutClient(cl); err != nil {
			return fmt.Errorf("store client: %w", err)
		}
		return tx.Audit(auditEntry(ctx, actor, OpClientRotateSecret, cl.ID, now, nil))
	})
	if err != nil {
		return "", fmt.Errorf("auth: %s: %w", OpClientRotateSecret, err)
	}
	return secret, nil
}

// List answers every client, oldest first.
func (c *Clients) List(ctx context.Context) ([]core.Client, error) {
	cls, err := c.Store.Clients(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: list clients: %w", err)
	}
	return cls, nil
}

// Get answers one client, or a *core.Error of KindNotFound.
func (c *Clients) Get(ctx context.Context, id string) (*core.Client, error) {
	cl, err := c.Store.Client(ctx, id)
	if err != nil {
		if errors.Is(err, core.ErrNotFound) {
			return nil, clientNotFound(id, err)
		}
		return nil, fmt.Errorf("auth: read client: %w", err)
	}
	return cl, nil
}

// errInvalidClient is what Authenticate answers for any bad credential,
// so that callers cannot tell an unknown id from a wrong secret or a
// disabled client.
func errInvalidClient() error {
	return core.Errorf(core.KindUnauthenticated, "INVALID_CLIENT", "invalid client credentials")
}

// Authenticate checks a client id and secret and answers the active
// client. An unknown id, a wrong secret and a disabled client all answer
// the same *core.Error of KindUnauthenticated, after the same bcrypt work
// (an unknown id is compared against a dummy hash), so neither the answer
// nor its timing reveals which ids exist. Store failures other than
// not-found are returned as they are. With a Throttle, a locked-out
// request answers a *ThrottledError at once, without comparing the secret.
func (c *Clients) Authenticate(ctx context.Context, id, secret string) (*core.Client, error) {
	source := core.RequestMetaFrom(ctx).RemoteAddr
	if c.Throttle != nil {
		if wait := c.Throttle.Check(id, source); wait > 0 {
			return nil, &ThrottledError{RetryAfter: wait}
		}
	}
	ended := false // the attempt Check let in ends exactly once
	defer func() {
		if !ended && c.Throttle != nil {
			c.Throttle.Abandon(id, source)
		}
	}()
	var cl *core.Client
	if _, err := uuid.Parse(id); err == nil {
		cl, err = c.Store.Client(ctx, id)
		if err != nil && !errors.Is(err, core.ErrNotFound) {
			return nil, fmt.Errorf("auth: read client: %w", err)
		}
	}
	hash := c.dummy()
	if cl != nil && cl.SecretHash != "" {
		hash = cl.SecretHash
	}
	ok := CheckSecret(hash, secret)
	ended = true
	if cl == nil || !ok || cl.Status != core.ClientActive {
		if c.Throttle != nil {
			c.Throttle.Failure(id, source)
		}
		return nil, errInvalidClient()
	}
	if c.Throttle != nil {
		c.Throttle.Success(id, source)
	}
	return cl, nil
}

// dummy is a hash of a random secret at the configured cost, compared
// against when the client id is unknown.
func (c *Clients) dummy() string {
	c.dummyOnce.Do(func() {
		s, err := NewSecret()
		if err == nil {
			c.dummyHash, err = HashSecretCost(s, c.cost())
		}
		if err != nil {
			// Still a well-formed hash of the right cost prefix; never
			// matches anything a client can send.
			c.dummyHash = fmt.Sprintf("$2a$%02d$", c.cost()) + strings.Repeat("A", 53)
		}
	})
	return c.dummyHash
}

func txClient(tx core.Tx, id string) (*core.Client, error) {
	cl, err := tx.Client(id)
	if err != nil {
		if errors.Is(err, core.ErrNotFound) {
			return nil, clientNotFound(id, err)
		}
		return nil, fmt.Errorf("read client: %w", err)
	}
	return cl, nil
}

func clientNotFound(id string, err error) error {
	return core.Wrap(err, core.KindNotFound, "CLIENT_NOT_FOUND", "client %q not found", id)
}

func validateName(name string) error {
	if name == "" {
		return core.Errorf(core.KindInvalid, "INVALID_NAME", "client name is required")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxClientName {
		return core.Errorf(core.KindInvalid, "INVALID_NAME", "client name must be valid UTF-8 of at most %d characters", maxClientName)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return core.Errorf(core.KindInvalid, "INVALID_NAME", "client name must not contain control characters")
	}
	return nil
}

// canonicalScopes parses each scope and answers the canonical v2 strings,
// without duplicates, in the order given.
func canonicalScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, core.Errorf(core.KindInvalid, "INVALID_SCOPE", "at least one scope is required")
	}
	var out []string
	for _, s := range scopes {
		parsed, err := core.ParseScope(s)
		if err != nil {
			return nil, &core.Error{Kind: core.KindInvalid, Code: "INVALID_SCOPE",
				Message: fmt.Sprintf("scope %q is not valid", s), Err: err}
		}
		for _, p := range parsed {
			if cs := p.String(); !slices.Contains(out, cs) {
				out = append(out, cs)
			}
		}
	}
	return out, nil
}

func auditEntry(ctx context.Context, actor core.Principal, op, clientID string, at time.Time, detail json.RawMessage) core.AuditEntry {
	meta := core.RequestMetaFrom(ctx)
	return core.AuditEntry{
		At:            at,
		ActorID:       actor.ID,
		ActorType:     actor.Type,
		Operation:     op,
		ObjectType:    AuditObjectClient,
		ObjectID:      clientID,
		RemoteAddr:    meta.RemoteAddr,
		CorrelationID: meta.CorrelationID,
		Detail:        detail,
	}
}
