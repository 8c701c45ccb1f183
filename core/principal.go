package core

import "context"

// Principal is the authenticated caller of an engine operation.
type Principal struct {
	ID     string   // client id (system) or user id
	Type   UserType // system or user
	Role   string   // the user's role; empty for system clients
	Scopes Scopes
	// Office is the caller's own office (a CRVS office or facility
	// UUID), used for location-limited scopes and as a default
	// createdAtLocation where an interface allows one. May be empty.
	Office string
	// Record, when set, limits the principal to one Requested action: it
	// holds a record-scoped confirmation token (scopes
	// record.confirm-registration / record.reject-registration) and may
	// only accept or reject that action.
	Record *RecordGrant
}

// RecordGrant is the event and action a record-scoped token is for.
type RecordGrant struct {
	EventID  string
	ActionID string
}

// RequestMeta carries where a request came from, for the audit trail and
// logs.
type RequestMeta struct {
	CorrelationID string
	RemoteAddr    string
}

type requestMetaKey struct{}

// WithRequestMeta returns a context carrying m.
func WithRequestMeta(ctx context.Context, m RequestMeta) context.Context {
	return context.WithValue(ctx, requestMetaKey{}, m)
}

// RequestMetaFrom returns the RequestMeta in ctx (zero if none).
func RequestMetaFrom(ctx context.Context) RequestMeta {
	m, _ := ctx.Value(requestMetaKey{}).(RequestMeta)
	return m
}
