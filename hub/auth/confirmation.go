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

// HubSubject is the sub of tokens the hub issues for itself (record-scoped
// confirmation tokens handed to partners).
const HubSubject = "crvshub"

// Record-scoped token claims.
const (
	ClaimEventID  = "eventId"
	ClaimActionID = "actionId"
)

var confirmationScopes = []string{core.ScopeConfirmRegistration, core.ScopeRejectRegistration}

// IssueConfirmationToken issues a record-scoped token that lets its
// holder accept or reject one Requested action, and nothing else: scopes
// record.confirm-registration and record.reject-registration, claims
// eventId and actionId, valid ConfirmationTTL.
func (i *Issuer) IssueConfirmationToken(eventID, actionID string) (string, int, error) {
	if !core.IsUUID(eventID) || !core.IsUUID(actionID) {
		return "", 0, fmt.Errorf("auth: confirmation token: event and action ids must be UUIDs")
	}
	tok, err := i.Issue(map[string]any{
		"sub": HubSubject, "userType": string(core.UserTypeSystem), "scope": confirmationScopes,
		ClaimEventID: eventID, ClaimActionID: actionID,
	}, ConfirmationTTL)
	return tok, int(ConfirmationTTL / time.Second), err
}

// recordPrincipal turns a record-scoped token's claims into its principal,
// or reports that the claims are not a record-scoped token.
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
	if c.Subject == HubSubject {
		return p, true, nil
	}
	// issued to a client: that client must still be active
	cl, err := a.client(ctx, c.Subject)
	if err != nil {
		return core.Principal{}, true, err
	}
	p.Office = cl.Office
	return p, true, nil
}
