package core

import (
	"encoding/json"
	"slices"
	"strings"
)

// Record-scope options that limit which events a scope reaches, besides
// OptEvent and the jurisdiction options (OpenCRVS canAccessEventWithScope).
const (
	// OptDeclaredBy=user: only events the caller declared.
	OptDeclaredBy = "declaredBy"
	// OptRegisteredBy=user: only events the caller registered.
	OptRegisteredBy = "registeredBy"
	// UserFilterUser is the one value of declaredBy and registeredBy.
	UserFilterUser = "user"
)

// inertOptions are record-scope options that do not narrow which events a
// scope reaches (what to print, which custom actions). Any other option the
// engine does not know makes the scope reach no event at all: a limit the
// hub cannot enforce must not turn into access to every record.
var inertOptions = map[string]bool{"templates": true, "customActionTypes": true}

// EventAccess is what scope options test of an event: its type, where it
// happened, and where and by whom it was declared and registered (OpenCRVS
// EventIndex placeOfEvent and legalStatuses). Locations are lower-case ids.
type EventAccess struct {
	Type         string
	PlaceOfEvent string
	DeclaredAt   string
	DeclaredBy   string
	RegisteredAt string
	RegisteredBy string
}

// AccessOf returns what scope options test of an event in state st.
func AccessOf(cc *CountryConfig, ev *EventDocument, st State) EventAccess {
	a := EventAccess{Type: ev.Type, PlaceOfEvent: PlaceOfEvent(cc, ev.Type, st)}
	if st.Declared != nil {
		a.DeclaredAt, a.DeclaredBy = strings.ToLower(st.Declared.CreatedAtLocation), st.Declared.CreatedBy
	}
	if st.Registered != nil {
		a.RegisteredAt, a.RegisteredBy = strings.ToLower(st.Registered.CreatedAtLocation), st.Registered.CreatedBy
	}
	return a
}

// PlaceOfEvent resolves where an event happened as OpenCRVS does: the
// location where it was created, unless the event type names a place field
// holding a location id, or a domestic address (then its administrative
// area). A value that is not a UUID is ignored.
func PlaceOfEvent(cc *CountryConfig, eventType string, st State) string {
	place := strings.ToLower(st.CreatedAtLocation)
	ec := cc.Event(eventType)
	if ec == nil || ec.PlaceOfEvent == "" {
		return place
	}
	raw := st.Declaration[ec.PlaceOfEvent]
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var addr struct {
			AddressType        string `json:"addressType"`
			AdministrativeArea string `json:"administrativeArea"`
		}
		if json.Unmarshal(raw, &addr) == nil && addr.AddressType == "DOMESTIC" {
			s = addr.AdministrativeArea
		}
	}
	if IsUUID(s) {
		return strings.ToLower(s)
	}
	return place
}

// Restricting reports whether the scope limits which events of its types
// it reaches beyond the event option (a jurisdiction, a user filter, or an
// option the engine does not know).
func (sc Scope) Restricting() bool {
	for k, vals := range sc.Options {
		switch k {
		case OptEvent:
		case OptPlaceOfEvent, OptDeclaredIn, OptRegisteredIn:
			if !slices.Contains(vals, JurisdictionAll) {
				return true
			}
		default:
			if !inertOptions[k] {
				return true
			}
		}
	}
	return false
}

// Admits reports whether the scope reaches the event for principal p: the
// event option admits its type and every limiting option is met (OpenCRVS
// canAccessEventWithScope). A jurisdiction option is met when the event's
// location is the caller's office or lies below it ("location"), or lies in
// the administrative area of the caller's office ("administrativeArea");
// an event with no such location yet (not declared, not registered) is
// outside every jurisdiction. Unlike OpenCRVS, a caller whose office is
// unknown, or whose office has no administrative area, is held to its
// office alone (fail closed).
func (sc Scope) Admits(cc *CountryConfig, p Principal, ev EventAccess) bool {
	if !sc.AllowsEvent(ev.Type) {
		return false
	}
	for k, vals := range sc.Options {
		ok := true
		switch k {
		case OptEvent:
		case OptPlaceOfEvent:
			ok = inJurisdiction(cc, p, ev.PlaceOfEvent, vals)
		case OptDeclaredIn:
			ok = inJurisdiction(cc, p, ev.DeclaredAt, vals)
		case OptRegisteredIn:
			ok = inJurisdiction(cc, p, ev.RegisteredAt, vals)
		case OptDeclaredBy:
			ok = byUser(p, ev.DeclaredBy, vals)
		case OptRegisteredBy:
			ok = byUser(p, ev.RegisteredBy, vals)
		default:
			ok = inertOptions[k]
		}
		if !ok {
			return false
		}
	}
	return true
}

func inJurisdiction(cc *CountryConfig, p Principal, loc string, vals []string) bool {
	if len(vals) == 0 || slices.Contains(vals, JurisdictionAll) {
		return true
	}
	if loc == "" {
		return false
	}
	for _, root := range JurisdictionRoots(cc, p, vals) {
		if cc.Within(loc, root) {
			return true
		}
	}
	return false
}

// JurisdictionRoots returns the locations whose subtrees a jurisdiction
// option's values reach for p: its office ("location") and the
// administrative area its office lies in ("administrativeArea"). nil when
// p has no known office. Callers handle "all" first.
func JurisdictionRoots(cc *CountryConfig, p Principal, vals []string) []string {
	office := cc.Location(strings.ToLower(p.Office))
	if office == nil {
		return nil
	}
	roots := []string{office.ID}
	if slices.Contains(vals, JurisdictionAdministrativeArea) && office.ParentID != "" {
		roots = []string{office.ParentID} // the office lies in it
	}
	return roots
}

func byUser(p Principal, who string, vals []string) bool {
	for _, v := range vals {
		if v != UserFilterUser {
			return false // no other user filter exists: fail closed
		}
	}
	return who != "" && who == p.ID
}

// canAccess applies OpenCRVS's record access rule to an action on an
// existing event: some held scope of the action's types must admit the
// event. Without a scope admitting the event type the answer names the
// missing scope (403); with scopes that admit the type but whose
// jurisdiction or user options exclude this event it is "not found", so
// that the caller learns nothing about records outside its reach.
func (s *Service) canAccess(p Principal, t ActionType, ev *EventDocument, st State) error {
	err := s.canAccessWith(p, actionScopes[t], ev, st)
	if t == ActionRead && KindOf(err) == KindForbidden {
		return notFound(ev.ID) // do not reveal events of types the caller may not read
	}
	return err
}

// canAccessWith is canAccess for any list of scope types (one is enough).
func (s *Service) canAccessWith(p Principal, types []string, ev *EventDocument, st State) error {
	if err := RequireScope(p, types, ev.Type); err != nil {
		return err
	}
	var view *EventAccess
	for _, typ := range types {
		for _, sc := range p.Scopes.Of(typ) {
			if !sc.AllowsEvent(ev.Type) {
				continue
			}
			if !sc.Restricting() {
				return nil
			}
			if view == nil {
				v := AccessOf(s.Config, ev, st)
				view = &v
			}
			if sc.Admits(s.Config, p, *view) {
				return nil
			}
		}
	}
	return notFound(ev.ID)
}

// CheckClientLocation binds a system client's createdAtLocation to its
// office: a client with an office may only use that office, or, holding
// ScopeFacilitiesInArea, a health facility in the administrative area the
// office lies in; anything else is a 403 naming the location. A client
// without an office may use any office or facility (it has no jurisdiction
// to be kept in). Users always act at their own office (checkLocation).
// loc is a lower-case office or facility id.
func CheckClientLocation(cc *CountryConfig, p Principal, loc string) error {
	if p.Type != UserTypeSystem || p.Office == "" {
		return nil
	}
	office := strings.ToLower(p.Office)
	if loc == office {
		return nil
	}
	facilities := p.Scopes.Has(ScopeFacilitiesInArea)
	if o := cc.Location(office); facilities && o != nil && o.ParentID != "" {
		if l := cc.Location(loc); l != nil && l.LocationType == LocationHealthFacility && cc.Within(loc, o.ParentID) {
			return nil
		}
	}
	if facilities {
		return Errorf(KindForbidden, "LOCATION_NOT_ALLOWED",
			"createdAtLocation %s is neither this client's office (%s) nor a health facility in its office's administrative area", loc, office)
	}
	return Errorf(KindForbidden, "LOCATION_NOT_ALLOWED",
		"createdAtLocation %s is not this client's office (%s); a client may only act at its own office (scope type=%s adds the health facilities of its office's area)",
		loc, office, ScopeFacilitiesInArea)
}
