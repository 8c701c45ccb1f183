package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/crvshub/crvshub/core"
)

// Token defaults, as the OpenCRVS v2 auth service issues them.
const (
	// DefaultIssuer is the iss claim of every token.
	DefaultIssuer = "opencrvs:auth-service"
	// DefaultTTL is the lifetime of a system client token
	// (CONFIG_SYSTEM_TOKEN_EXPIRY_SECONDS).
	DefaultTTL = 600 * time.Second
	// DefaultSkew is the clock skew Verifier tolerates on exp, iat and nbf.
	DefaultSkew = 5 * time.Second
)

// DefaultAudience is the aud claim of every token.
var DefaultAudience = []string{
	"opencrvs:auth-user",
	"opencrvs:user-mgnt-user",
	"opencrvs:gateway-user",
	"opencrvs:events-user",
	"opencrvs:countryconfig-user",
	"opencrvs:documents-user",
}

// DefaultAcceptedAudience are the audiences the events service accepts; a
// token must name at least one.
var DefaultAcceptedAudience = []string{"opencrvs:events-user", "opencrvs:gateway-user"}

// Claim names beyond the registered JWT claims.
const (
	ClaimScope    = "scope"
	ClaimUserType = "userType"
)

// Issuer signs the hub's RS256 tokens. Zero fields take the defaults.
type Issuer struct {
	Key      *KeyPair
	Issuer   string           // iss; "" = DefaultIssuer
	Audience []string         // aud; nil = DefaultAudience
	TTL      time.Duration    // lifetime of system tokens; 0 = DefaultTTL
	Now      func() time.Time // clock; nil = time.Now
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// Lifetime is the lifetime of the system tokens the Issuer mints (TTL, or
// DefaultTTL when unset).
func (i *Issuer) Lifetime() time.Duration {
	if i.TTL > 0 {
		return i.TTL
	}
	return DefaultTTL
}

// IssueSystemToken signs a token for a system client: sub = clientID,
// userType "system", scope = the client's scopes in canonical v2 form. It
// answers the token and its lifetime in seconds.
func (i *Issuer) IssueSystemToken(clientID string, scopes []string) (token string, expiresIn int, err error) {
	if clientID == "" {
		return "", 0, errors.New("auth: issue token: empty client id")
	}
	parsed, err := core.ParseScopes(scopes)
	if err != nil {
		return "", 0, fmt.Errorf("auth: issue token: %w", err)
	}
	ttl := i.Lifetime()
	tok, err := i.Issue(map[string]any{
		jwt.SubjectKey: clientID,
		ClaimUserType:  string(core.UserTypeSystem),
		ClaimScope:     nonNil(parsed.Strings()),
	}, ttl)
	if err != nil {
		return "", 0, err
	}
	return tok, int(ttl / time.Second), nil
}

// reservedClaims are set by Issue and may not be given by the caller.
var reservedClaims = []string{jwt.IssuerKey, jwt.IssuedAtKey, jwt.ExpirationKey, jwt.NotBeforeKey, jwt.JwtIDKey}

// Issue signs a token with the given claims plus iss, aud (unless claims
// has one), iat, exp (now + ttl; ttl <= 0 means the Issuer's TTL) and a
// random jti. claims may not set iss, iat, exp, nbf or jti. It is meant
// for tokens other than plain system tokens, such as record-scoped
// confirmation tokens (claims sub, userType, scope, eventId, actionId).
func (i *Issuer) Issue(claims map[string]any, ttl time.Duration) (string, error) {
	if i.Key == nil || i.Key.JWK == nil {
		return "", errors.New("auth: issue token: no signing key")
	}
	for _, k := range reservedClaims {
		if _, ok := claims[k]; ok {
			return "", fmt.Errorf("auth: issue token: claim %q is set by the issuer", k)
		}
	}
	if ttl <= 0 {
		ttl = i.Lifetime()
	}
	iss := i.Issuer
	if iss == "" {
		iss = DefaultIssuer
	}
	aud := i.Audience
	if aud == nil {
		aud = DefaultAudience
	}
	now := i.now().Truncate(time.Second)
	b := jwt.NewBuilder().
		Issuer(iss).
		Audience(aud).
		IssuedAt(now).
		Expiration(now.Add(ttl)).
		JwtID(uuid.NewString())
	for k, v := range claims {
		b = b.Claim(k, v)
	}
	t, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("auth: build token: %w", err)
	}
	signed, err := jwt.Sign(t, jwt.WithKey(jwa.RS256, i.Key.JWK))
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return string(signed), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Claims are the verified claims of a token.
type Claims struct {
	Subject   string
	UserType  core.UserType
	Scope     []string // as written in the token
	Issuer    string
	Audience  []string
	IssuedAt  time.Time
	ExpiresAt time.Time
	JwtID     string
	// Extra holds every other claim (e.g. eventId, actionId of a
	// record-scoped token), as decoded from JSON.
	Extra map[string]any
}

// Verifier checks tokens signed by the hub's key. Zero fields take the
// defaults.
type Verifier struct {
	Key       *KeyPair
	Issuer    string           // required iss; "" = DefaultIssuer
	Audiences []string         // aud must contain one of these; nil = DefaultAcceptedAudience
	Skew      time.Duration    // tolerated clock skew; 0 = DefaultSkew, < 0 = none
	Now       func() time.Time // clock; nil = time.Now
	// MaxTTL is the longest lifetime (exp - iat) accepted; 0 =
	// ConfirmationTTL, the longest the hub issues. The Authenticator
	// holds a client's own tokens to the shorter system token TTL.
	MaxTTL time.Duration
}

// NewVerifier returns a Verifier for tokens signed with kp, with the
// default issuer, audiences and skew.
func NewVerifier(kp *KeyPair) *Verifier { return &Verifier{Key: kp} }

// maxTokenLen bounds the token Verify will parse.
const maxTokenLen = 16 << 10

func unauthenticated(msg string, err error) error {
	return &core.Error{Kind: core.KindUnauthenticated, Code: "INVALID_TOKEN", Message: msg, Err: err}
}

// Verify checks token's RS256 signature against the hub's key (any other
// algorithm, including "none" and HS256, fails), its exp, iat (required)
// and nbf (with a small skew), that it lives no longer than MaxTTL, iss
// and aud, and that sub, userType and scope are present. Every failure is a *core.Error of KindUnauthenticated; the
// token itself never appears in an error.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if v.Key == nil || v.Key.Public == nil {
		return nil, errors.New("auth: verifier has no key")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, unauthenticated("missing bearer token", nil)
	}
	if len(token) > maxTokenLen {
		return nil, unauthenticated("token too long", nil)
	}
	// Only the compact form is accepted. Causes are not wrapped in what
	// follows: jwx messages may quote parts of the token.
	if strings.Count(token, ".") != 2 {
		return nil, unauthenticated("token malformed", nil)
	}
	if _, err := jws.ParseString(token); err != nil {
		return nil, unauthenticated("token malformed", nil)
	}
	// Check the signature first, without validation, so that a bad
	// signature is reported as such whatever the claims say. The algorithm
	// is fixed to RS256 whatever the header says.
	t, err := jwt.ParseString(token,
		jwt.WithKey(jwa.RS256, v.Key.Public),
		jwt.WithValidate(false),
	)
	if err != nil {
		return nil, unauthenticated("token signature invalid", nil)
	}

	skew := v.Skew
	switch {
	case skew == 0:
		skew = DefaultSkew
	case skew < 0:
		skew = 0
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	iss := v.Issuer
	if iss == "" {
		iss = DefaultIssuer
	}
	auds := v.Audiences
	if auds == nil {
		auds = DefaultAcceptedAudience
	}
	if err := jwt.Validate(t,
		jwt.WithContext(ctx),
		jwt.WithClock(jwt.ClockFunc(now)),
		jwt.WithAcceptableSkew(skew),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	); err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired()):
			return nil, unauthenticated("token expired", nil)
		case errors.Is(err, jwt.ErrTokenNotYetValid()), errors.Is(err, jwt.ErrInvalidIssuedAt()):
			return nil, unauthenticated("token not valid yet", nil)
		case errors.Is(err, jwt.ErrMissingRequiredClaim(jwt.ExpirationKey)):
			return nil, unauthenticated("token has no exp claim", nil)
		default:
			return nil, unauthenticated("token invalid", err)
		}
	}
	if t.IssuedAt().IsZero() { // its lifetime is unknown
		return nil, unauthenticated("token has no iat claim", nil)
	}
	maxTTL := v.MaxTTL
	if maxTTL <= 0 {
		maxTTL = ConfirmationTTL
	}
	if t.Expiration().Sub(t.IssuedAt()) > maxTTL {
		return nil, unauthenticated("token lifetime is longer than the hub issues", nil)
	}
	if t.Issuer() != iss {
		return nil, unauthenticated("token issuer not accepted", nil)
	}
	if !slices.ContainsFunc(t.Audience(), func(a string) bool { return slices.Contains(auds, a) }) {
		return nil, unauthenticated("token audience not accepted", nil)
	}
	c := &Claims{
		Subject:   t.Subject(),
		Issuer:    t.Issuer(),
		Audience:  t.Audience(),
		IssuedAt:  t.IssuedAt(),
		ExpiresAt: t.Expiration(),
		JwtID:     t.JwtID(),
		Extra:     map[string]any{},
	}
	if c.Subject == "" {
		return nil, unauthenticated("token has no sub claim", nil)
	}
	for k, val := range t.PrivateClaims() {
		switch k {
		case ClaimUserType:
			s, ok := val.(string)
			if !ok {
				return nil, unauthenticated("token userType claim is not a string", nil)
			}
			c.UserType = core.UserType(s)
		case ClaimScope:
			sc, ok := stringList(val)
			if !ok {
				return nil, unauthenticated("token scope claim is not a list of strings", nil)
			}
			c.Scope = sc
		default:
			c.Extra[k] = val
		}
	}
	if c.UserType == "" {
		return nil, unauthenticated("token has no userType claim", nil)
	}
	if c.Scope == nil {
		return nil, unauthenticated("token has no scope claim", nil)
	}
	return c, nil
}

// stringList reads a JSON array of strings as decoded by jwx.
func stringList(v any) ([]string, bool) {
	switch x := v.(type) {
	case []string:
		return nonNil(x), true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}
