package core

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Search limits: the bounds of a page (SearchFilter.Limit, Offset).
const (
	DefaultSearchLimit = 100
	MaxSearchLimit     = 1000
	MaxSearchOffset    = 100000
)

// SearchResult is the answer of a search: OpenCRVS's {results, total}.
type SearchResult struct {
	Results []json.RawMessage `json:"results"`
	Total   int               `json:"total"`
}

// Search runs a compiled search (core/searchquery parses OpenCRVS's
// SearchQuery into one) for a caller, limited to the event types and
// jurisdiction the caller's record.search scopes allow. received is the
// query as the caller sent it, kept in the search's audit row.
func (s *Service) Search(ctx context.Context, p Principal, f SearchFilter, received []byte) (*SearchResult, error) {
	if err := RequireScope(p, []string{ScopeRecordSearch}, ""); err != nil {
		return nil, err
	}
	if f.Limit < 1 || f.Limit > MaxSearchLimit {
		return nil, Errorf(KindInvalid, "INVALID_SEARCH", "limit must be between 1 and %d", MaxSearchLimit)
	}
	if f.Offset < 0 || f.Offset > MaxSearchOffset {
		return nil, Errorf(KindInvalid, "INVALID_SEARCH", "offset must be between 0 and %d", MaxSearchOffset)
	}
	access, err := s.searchAccess(p)
	if err != nil {
		return nil, err
	}
	if access != nil {
		f.Where = Filter{Op: "and", Children: []Filter{f.Where, *access}}
	}
	page, err := s.Store.Search(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if page.Results == nil {
		page.Results = []json.RawMessage{}
	}
	// Every search leaves an audit row, as every write does: who, the
	// query as received, how many results. No row, no answer. The row's
	// commit (a disk sync, shared with concurrent writes) runs while the
	// results are cut to what the caller may read.
	detail, err := json.Marshal(map[string]any{"query": searchDetail(received), "results": len(page.Results), "total": page.Total})
	if err != nil {
		return nil, Wrap(err, KindInternal, "AUDIT", "cannot encode the search audit entry")
	}
	m := RequestMetaFrom(ctx)
	entry := AuditEntry{At: s.now(), ActorID: p.ID, ActorType: p.Type, Operation: AuditSearch,
		ObjectType: "search", RemoteAddr: m.RemoteAddr, CorrelationID: m.CorrelationID, Detail: detail}
	audited := make(chan error, 1)
	go func() {
		audited <- s.Store.Write(ctx, func(tx Tx) error { return tx.Audit(entry) })
	}()
	cutErr := s.limitToReadable(p, page.Results)
	if err := <-audited; err != nil {
		return nil, fmt.Errorf("search: audit: %w", err)
	}
	if cutErr != nil {
		return nil, cutErr
	}
	return &SearchResult{Results: page.Results, Total: page.Total}, nil
}

// AuditSearch is the audit operation of a search.
const AuditSearch = "search"

// searchDetail is the query as received, for the audit row: the body as
// JSON (it parsed, so it is valid JSON).
func searchDetail(body []byte) json.RawMessage {
	if !json.Valid(body) {
		b, _ := json.Marshal(string(body))
		return b
	}
	return json.RawMessage(body)
}

// limitToReadable cuts the declaration of each result the caller's
// record.read scopes do not reach down to its event type's search-result
// fields (EventConfig.SearchResultFields), in place. OpenCRVS v2.0 returns
// the whole declaration to any searcher; the hub does not (README,
// differences from OpenCRVS).
func (s *Service) limitToReadable(p Principal, docs []json.RawMessage) error {
	reads := p.Scopes.Of(ScopeRecordRead)
	for _, sc := range reads {
		if sc.AllowsEvent("") && !sc.Restricting() {
			return nil // reads every record: nothing to cut
		}
	}
	for i, doc := range docs {
		var head struct {
			Type          string                  `json:"type"`
			PlaceOfEvent  string                  `json:"placeOfEvent"`
			LegalStatuses map[string]*LegalStatus `json:"legalStatuses"`
		}
		if err := json.Unmarshal(doc, &head); err != nil {
			return Wrap(err, KindInternal, "SEARCH", "cannot decode a search result")
		}
		if s.readReaches(p, reads, &EventIndex{Type: head.Type, PlaceOfEvent: head.PlaceOfEvent, LegalStatuses: head.LegalStatuses}) {
			continue
		}
		var ix EventIndex
		if err := json.Unmarshal(doc, &ix); err != nil {
			return Wrap(err, KindInternal, "SEARCH", "cannot decode a search result")
		}
		ec := s.Config.Event(ix.Type)
		for id := range ix.Declaration {
			if ec == nil || !ec.IsSearchResultField(id) {
				delete(ix.Declaration, id)
			}
		}
		b, err := json.Marshal(ix)
		if err != nil {
			return Wrap(err, KindInternal, "SEARCH", "cannot encode a search result")
		}
		docs[i] = b
	}
	return nil
}

// readReaches reports whether one of the caller's record.read scopes
// reaches the event of a search result (as canAccess decides for GET).
func (s *Service) readReaches(p Principal, reads []Scope, ix *EventIndex) bool {
	var view *EventAccess
	for _, sc := range reads {
		if !sc.AllowsEvent(ix.Type) {
			continue
		}
		if !sc.Restricting() {
			return true
		}
		if view == nil {
			v := accessOfIndex(ix)
			view = &v
		}
		if sc.Admits(s.Config, p, *view) {
			return true
		}
	}
	return false
}

// accessOfIndex is AccessOf read back from an EventIndex document.
func accessOfIndex(ix *EventIndex) EventAccess {
	a := EventAccess{Type: ix.Type, PlaceOfEvent: strings.ToLower(ix.PlaceOfEvent)}
	if d := ix.LegalStatuses["DECLARED"]; d != nil {
		a.DeclaredAt, a.DeclaredBy = strings.ToLower(d.CreatedAtLocation), d.CreatedBy
	}
	if r := ix.LegalStatuses["REGISTERED"]; r != nil {
		a.RegisteredAt, a.RegisteredBy = strings.ToLower(r.CreatedAtLocation), r.CreatedBy
	}
	return a
}

// searchAccess builds the filter that limits results to what the caller's
// record.search scopes reach (nil = everything), with the rules of
// Scope.Admits: a result must be admitted by one of the scopes.
func (s *Service) searchAccess(p Principal) (*Filter, error) {
	var alts []Filter
	for _, sc := range p.Scopes.Of(ScopeRecordSearch) {
		var conds []Filter
		reach := true
		for _, k := range slices.Sorted(maps.Keys(sc.Options)) {
			vals := sc.Options[k]
			switch k {
			case OptEvent:
				if !slices.Contains(vals, "all") {
					conds = append(conds, leaf(Cond{Column: ColType, Op: OpIn, Values: vals}))
				}
			case OptPlaceOfEvent, OptDeclaredIn, OptRegisteredIn:
				if len(vals) == 0 || slices.Contains(vals, JurisdictionAll) {
					continue
				}
				roots := JurisdictionRoots(s.Config, p, vals)
				if roots == nil {
					// No office, no jurisdiction: this scope reaches nothing
					// (as Scope.Admits says), whatever the caller's other
					// scopes reach.
					reach = false
					continue
				}
				var ids []string
				for _, r := range roots {
					ids = append(ids, s.Config.Subtree(r)...)
				}
				conds = append(conds, leaf(Cond{Column: jurisdictionColumns[k], Op: OpIn, Values: ids}))
			case OptDeclaredBy, OptRegisteredBy:
				col := ColDeclaredBy
				if k == OptRegisteredBy {
					col = ColRegisteredBy
				}
				if p.ID == "" || !byUser(p, p.ID, vals) {
					reach = false
					continue
				}
				conds = append(conds, leaf(Cond{Column: col, Op: OpIn, Values: []string{p.ID}}))
			default:
				if !inertOptions[k] {
					reach = false // an option the hub cannot enforce reaches nothing
				}
			}
		}
		if !reach {
			continue
		}
		if len(conds) == 0 {
			return nil, nil // one unrestricted scope is enough
		}
		alts = append(alts, Filter{Op: "and", Children: conds})
	}
	if len(alts) == 0 {
		// The caller holds record.search (Search checks it) but no scope
		// reaches any event.
		return &Filter{Op: "or", Children: []Filter{}}, nil
	}
	return &Filter{Op: "or", Children: alts}, nil
}

// jurisdictionColumns is the location each jurisdiction option of a
// record.search scope limits.
var jurisdictionColumns = map[string]Column{
	OptPlaceOfEvent: ColPlaceOfEvent,
	OptDeclaredIn:   ColDeclaredAtLocation,
	OptRegisteredIn: ColRegisteredAtLocation,
}

func leaf(c Cond) Filter { return Filter{Cond: &c} }
