package auth

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/crvshub/crvshub/core"
)

// ConfirmationTTL is how long a record-scoped confirmation token is valid
// (OpenCRVS: 7 days).
const ConfirmationTTL = 7 * 24 * time.Hour

// Record-scoped token claims.
const (
	ClaimEventID  = "eventId"
	ClaimActionID = "actionId"
)

var confirmationScopes = []string{core.ScopeConfirmRegistration, core.ScopeRejectRegistration}

// IssueConfirmationToken issues a record-scoped token that lets its
// holder accept or reject one Requested action, and nothing else: scopes
// record.confirm-registration and record.reject-registration, claims
// eventId and actionId, valid ConfirmationTTL. Its sub is clientID, the
// client that asked for it: the token works only while that client is
// active, so disabling the client revokes every token it minted (a token
// in the hub's own name could not be revoked for its 7 days). The caller
// checks that the client may confirm the event (nationalid.Ops).
func (i *Issuer) IssueConfirmationToken(clientID, eventID, actionID string) (string, int, error) {
	if clientID == "" {
		return "", 0, fmt.Errorf("auth: confirmation token: no client to issue it to")
	}
	if !core.IsUUID(eventID) || !core.IsUUID(actionID) {
		return "", 0, fmt.Errorf("auth: confirmation token: event and action ids must be UUIDs")
	}
	tok, err := i.Issue(map[string]any{
		"sub": clientID, "userType": string(core.UserTypeSystem), "scope": confirmationScopes,
		ClaimEventID: eventID, ClaimActionID: actionID,
	}, ConfirmationTTL)
	return tok, int(ConfirmationTTL / time.Second), err
}

// recordPrincipal turns a record-scoped token's claims into its principal,
// or reports that the claims are not a record-scoped token. The token's
// subject must be an active client, as for a client's own tokens: a
// disabled or deleted client's confirmation tokens stop working at once.
// A token minted in the hub's own name (sub "crvshub", by earlier
// versions) names no client and is refused: it could not be revoked.
func (a *Authenticator) recordPrincipal(ctx context.Context, c *Claims, scopes core.Scopes) (core.Principal, bool, error) {
	ev, evOK := c.Extra[ClaimEventID].(string)
	act, actOK := c.Extra[ClaimActionID].(string)
	if !evOK && !actOK {
		return core.Principal{}, false, nil
	}
	if !evOK || !actOK || !core.IsUUID(ev) || !core.IsUUID(act) {
		return core.Principal{}, true, unauthenticated("record-scoped token without a valid eventId and actionId", nil)
	}
	for _, s := range c.Scope {
		if !slices.Contains(confirmationScopes, s) {
			return core.Principal{}, true, unauthenticated("a record-scoped token may only hold the confirmation scopes", nil)
		}
	}
	p := core.Principal{ID: c.Subject, Type: core.UserTypeSystem, Scopes: scopes,
		Record: &core.RecordGrant{EventID: ev, ActionID: act}}
	cl, err := a.client(ctx, c)
	if err != nil {
		return core.Principal{}, true, err
	}
	p.Office = cl.Office
	return p, true, nil
}
