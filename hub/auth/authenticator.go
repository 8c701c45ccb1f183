package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
)

// Authenticator turns a bearer token into the caller's core.Principal.
type Authenticator struct {
	Verifier *Verifier
	Store    core.Store
	// Users resolves tokens with userType "user". While it is nil such
	// tokens are refused (the hub issues only system tokens so far).
	Users func(ctx context.Context, c *Claims, scopes core.Scopes) (core.Principal, error)
	// SystemTTL is the longest lifetime (exp - iat) of a client's own
	// token: what the Issuer gives them; 0 = DefaultTTL. Record-scoped
	// tokens are held to ConfirmationTTL.
	SystemTTL time.Duration
}

// Authenticate verifies bearer (an Authorization header value
// "Bearer <jwt>", or the bare token) and answers the principal. For a
// system token the client is read from the store on every call, so a
// client that was disabled or deleted, by this process or another one
// sharing the database, is refused at once; so is a token issued before
// the client's last change (core.Client.UpdatedAt: disable, enable,
// rotate-secret), so rotating a secret revokes the tokens issued with the
// old one, and enabling a client again does not revive them. Failures are
// *core.Error of KindUnauthenticated, except store failures other than
// not-found.
func (a *Authenticator) Authenticate(ctx context.Context, bearer string) (core.Principal, error) {
	token := bearerToken(bearer)
	if token == "" {
		return core.Principal{}, unauthenticated("missing bearer token", nil)
	}
	claims, err := a.Verifier.Verify(ctx, token)
	if err != nil {
		return core.Principal{}, err
	}
	scopes, err := core.ParseScopes(claims.Scope)
	if err != nil {
		return core.Principal{}, unauthenticated("token scope not understood", err)
	}
	switch claims.UserType {
	case core.UserTypeSystem:
		if p, ok, err := a.recordPrincipal(ctx, claims, scopes); ok {
			return p, err
		}
		ttl := a.SystemTTL
		if ttl <= 0 {
			ttl = DefaultTTL
		}
		if claims.ExpiresAt.Sub(claims.IssuedAt) > ttl {
			return core.Principal{}, unauthenticated("token lifetime is longer than the hub issues", nil)
		}
		cl, err := a.client(ctx, claims)
		if err != nil {
			return core.Principal{}, err
		}
		return core.Principal{
			ID:     claims.Subject,
			Type:   core.UserTypeSystem,
			Scopes: scopes,
			Office: cl.Office,
		}, nil
	case core.UserTypeUser:
		if a.Users == nil {
			return core.Principal{}, unauthenticated("user tokens are not accepted", nil)
		}
		return a.Users(ctx, claims, scopes)
	default:
		return core.Principal{}, unauthenticated("token userType not accepted", nil)
	}
}

// client reads the token's subject, an active client whose last change
// (rotate-secret, disable, enable) came before the token was issued, or
// fails with KindUnauthenticated. iat has whole seconds, so a token
// issued in the second of the change is refused whichever side of it it
// was minted on (TokenHandler mints no token in that second, see
// ChangedSecond); a client never changed since its creation has no such
// second.
func (a *Authenticator) client(ctx context.Context, c *Claims) (*core.Client, error) {
	cl, err := a.Store.Client(ctx, c.Subject)
	if err != nil {
		if errors.Is(err, core.ErrNotFound) {
			return nil, unauthenticated("client not found", nil)
		}
		return nil, core.Wrap(err, core.KindUnavailable, "STORE_UNAVAILABLE", "read client")
	}
	if cl.Status != core.ClientActive {
		return nil, unauthenticated("client disabled", nil)
	}
	if changed, ok := ChangedSecond(cl); ok && !c.IssuedAt.After(changed) {
		return nil, unauthenticated("token issued before the client's credentials last changed", nil)
	}
	return cl, nil
}

// ChangedSecond answers the whole second of the client's last change, and
// false for a client never changed since its creation. Tokens whose iat
// is that second or earlier are refused.
func ChangedSecond(cl *core.Client) (time.Time, bool) {
	if !cl.UpdatedAt.After(cl.CreatedAt) {
		return time.Time{}, false
	}
	return cl.UpdatedAt.Truncate(time.Second), true
}

// bearerToken strips an optional "Bearer " prefix (any case).
func bearerToken(h string) string {
	h = strings.TrimSpace(h)
	if strings.EqualFold(h, "bearer") {
		return ""
	}
	if len(h) >= 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return h
}
