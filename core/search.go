package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Search limits.
const (
	DefaultSearchLimit = 100
	MaxSearchLimit     = 1000
	MaxSearchOffset    = 100000
	maxSearchDepth     = 6
	maxSearchConds     = 64
	maxSearchTerms     = 200
)

// SearchResult is the answer of a search: OpenCRVS's {results, total}.
type SearchResult struct {
	Results []json.RawMessage `json:"results"`
	Total   int               `json:"total"`
}

// Search runs an OpenCRVS SearchQuery for a caller, limited to the event
// types and jurisdiction the caller's record.search scopes allow.
func (s *Service) Search(ctx context.Context, p Principal, body []byte) (*SearchResult, error) {
	if err := RequireScope(p, []string{ScopeRecordSearch}, ""); err != nil {
		return nil, err
	}
	f, err := ParseSearch(body, s.Config, s.now())
	if err != nil {
		return nil, err
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
	if err := s.limitToReadable(p, page.Results); err != nil {
		return nil, err
	}
	// Every search leaves an audit row, as every write does: who, the
	// query as received, how many results. No row, no answer.
	err = s.Store.Write(ctx, func(tx Tx) error {
		m := RequestMetaFrom(ctx)
		detail, err := json.Marshal(map[string]any{"query": searchDetail(body), "results": len(page.Results), "total": page.Total})
		if err != nil {
			return Wrap(err, KindInternal, "AUDIT", "cannot encode the search audit entry")
		}
		return tx.Audit(AuditEntry{At: s.now(), ActorID: p.ID, ActorType: p.Type, Operation: AuditSearch,
			ObjectType: "search", RemoteAddr: m.RemoteAddr, CorrelationID: m.CorrelationID, Detail: detail})
	})
	if err != nil {
		return nil, fmt.Errorf("search: audit: %w", err)
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
		for _, k := range sortedKeys(sc.Options) {
			vals := sc.Options[k]
			switch k {
			case OptEvent:
				if !containsStr(vals, "all") {
					conds = append(conds, leaf(Cond{Column: ColType, Op: OpIn, Values: vals}))
				}
			case OptPlaceOfEvent, OptDeclaredIn, OptRegisteredIn:
				if len(vals) == 0 || containsStr(vals, JurisdictionAll) {
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

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func leaf(c Cond) Filter { return Filter{Cond: &c} }

func badQuery(format string, args ...any) *Error {
	return Errorf(KindInvalid, "INVALID_SEARCH", format, args...)
}

// strictDecode decodes JSON rejecting unknown keys and trailing data.
func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// dec.More() misses a stray '}' or ']'; only the end of input will do.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// unquote turns a JSON string holding JSON (OpenCRVS allows query and sort
// as strings) into the inner JSON.
func unquote(raw json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		var s string
		if json.Unmarshal(t, &s) == nil {
			return json.RawMessage(s)
		}
	}
	return t
}

// ParseSearch parses and compiles an OpenCRVS SearchQuery body:
// {query: {type: and|or, clauses: [...]}, limit, offset, sort}.
func ParseSearch(body []byte, cc *CountryConfig, now time.Time) (SearchFilter, error) {
	var req struct {
		Query  json.RawMessage `json:"query"`
		Limit  *int            `json:"limit"`
		Offset *int            `json:"offset"`
		Sort   json.RawMessage `json:"sort"`
	}
	// A key given twice ({"query":A,"query":B}) would be decided by the
	// decoder (the last wins): refused, as on every write body.
	if json.Valid(body) {
		if err := CheckInputJSON(body); err != nil {
			return SearchFilter{}, badQuery("Invalid search body: %s", strings.TrimPrefix(err.Error(), "Invalid request body: "))
		}
	}
	if err := strictDecode(body, &req); err != nil {
		return SearchFilter{}, badQuery("Invalid search body: %v", err)
	}
	f := SearchFilter{Limit: DefaultSearchLimit}
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > MaxSearchLimit {
			return f, badQuery("limit must be between 1 and %d", MaxSearchLimit)
		}
		f.Limit = *req.Limit
	}
	if req.Offset != nil {
		if *req.Offset < 0 || *req.Offset > MaxSearchOffset {
			return f, badQuery("offset must be between 0 and %d", MaxSearchOffset)
		}
		f.Offset = *req.Offset
	}
	if len(req.Query) == 0 || isNull(req.Query) {
		return f, badQuery("query is required")
	}
	p := &queryParser{cc: cc, now: now}
	where, err := p.clause(unquote(req.Query), "query", 0)
	if err != nil {
		return f, err
	}
	f.Where = where
	if len(req.Sort) > 0 && !isNull(req.Sort) {
		if f.Sort, err = parseSort(unquote(req.Sort)); err != nil {
			return f, err
		}
	}
	return f, nil
}

var sortColumns = map[string]Column{
	"createdAt": ColCreatedAt, "updatedAt": ColUpdatedAt, "trackingId": ColTrackingID,
	"dateOfEvent": ColDateOfEvent, "legalStatuses.REGISTERED.acceptedAt": ColRegisteredAt,
	"status": ColStatus, "type": ColType, "eventType": ColType,
}

func parseSort(raw json.RawMessage) ([]SortKey, error) {
	var items []struct {
		Field     string `json:"field"`
		Direction string `json:"direction"`
	}
	if err := strictDecode(raw, &items); err != nil {
		return nil, badQuery("sort must be a list of {field, direction}: %v", err)
	}
	if len(items) > 5 {
		return nil, badQuery("sort takes at most 5 keys")
	}
	var out []SortKey
	for i, it := range items {
		col, ok := sortColumns[it.Field]
		if !ok {
			return nil, badQuery("sort[%d].field: cannot sort by '%s'", i, it.Field)
		}
		switch it.Direction {
		case "", "asc":
			out = append(out, SortKey{Column: col})
		case "desc":
			out = append(out, SortKey{Column: col, Desc: true})
		default:
			return nil, badQuery("sort[%d].direction must be asc or desc", i)
		}
	}
	return out, nil
}

type queryParser struct {
	cc    *CountryConfig
	now   time.Time
	conds int
}

func (p *queryParser) clause(raw json.RawMessage, path string, depth int) (Filter, error) {
	if depth > maxSearchDepth {
		return Filter{}, badQuery("%s: queries nest at most %d deep", path, maxSearchDepth)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return Filter{}, badQuery("%s: expected an object", path)
	}
	if _, isGroup := obj["clauses"]; isGroup {
		var g struct {
			Type    string            `json:"type"`
			Clauses []json.RawMessage `json:"clauses"`
		}
		if err := strictDecode(raw, &g); err != nil {
			return Filter{}, badQuery("%s: a group is {type, clauses}: %v", path, err)
		}
		if g.Type != "and" && g.Type != "or" {
			return Filter{}, badQuery("%s.type must be 'and' or 'or'", path)
		}
		if len(g.Clauses) == 0 {
			return Filter{}, badQuery("%s.clauses must not be empty", path)
		}
		out := Filter{Op: g.Type}
		for i, c := range g.Clauses {
			child, err := p.clause(c, fmt.Sprintf("%s.clauses[%d]", path, i), depth+1)
			if err != nil {
				return Filter{}, err
			}
			out.Children = append(out.Children, child)
		}
		return out, nil
	}
	if len(obj) == 0 {
		return Filter{}, badQuery("%s: an expression needs at least one key", path)
	}
	out := Filter{Op: "and"}
	for _, k := range sortedKeys(obj) {
		fs, err := p.expression(k, obj[k], path+"."+k)
		if err != nil {
			return Filter{}, err
		}
		out.Children = append(out.Children, fs...)
	}
	if len(out.Children) == 1 {
		return out.Children[0], nil
	}
	return out, nil
}

// match is one search operator object.
type match struct {
	Type     string            `json:"type"`
	Term     json.RawMessage   `json:"term"`
	Terms    []json.RawMessage `json:"terms"`
	Gte      json.RawMessage   `json:"gte"`
	Lte      json.RawMessage   `json:"lte"`
	Location string            `json:"location"`
}

func parseMatch(raw json.RawMessage, path string) (match, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] != '{' {
		return match{Type: "exact", Term: t}, nil // a bare value means exact
	}
	var m match
	if err := strictDecode(t, &m); err != nil {
		return m, badQuery("%s: expected {type, term|terms|gte|lte|location}: %v", path, err)
	}
	if len(m.Terms) > maxSearchTerms {
		return m, badQuery("%s: at most %d terms", path, maxSearchTerms)
	}
	return m, nil
}

func rawString(raw json.RawMessage) (string, bool) {
	if isNull(raw) {
		return "", false // json.Unmarshal would take null as ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), true
	}
	if t := bytes.TrimSpace(raw); bytes.Equal(t, []byte("true")) || bytes.Equal(t, []byte("false")) {
		return string(t), true
	}
	return "", false
}

// values returns the terms of an exact or anyOf match as strings.
func (m match) values(path string) ([]string, error) {
	switch m.Type {
	case "exact":
		s, ok := rawString(m.Term)
		if !ok {
			return nil, badQuery("%s.term must be a string", path)
		}
		return []string{s}, nil
	case "anyOf":
		if len(m.Terms) == 0 {
			return nil, badQuery("%s.terms must not be empty", path)
		}
		out := make([]string, 0, len(m.Terms))
		for i, t := range m.Terms {
			s, ok := rawString(t)
			if !ok {
				return nil, badQuery("%s.terms[%d] must be a string", path, i)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, badQuery("%s: type must be exact or anyOf, not '%s'", path, m.Type)
}

func (p *queryParser) add(c Cond) ([]Filter, error) {
	p.conds++
	if p.conds > maxSearchConds {
		return nil, badQuery("a query may hold at most %d conditions", maxSearchConds)
	}
	return []Filter{leaf(c)}, nil
}

var exactColumns = map[string]Column{
	"id": ColID, "trackingId": ColTrackingID, "eventType": ColType, "status": ColStatus,
	"legalStatuses.REGISTERED.registrationNumber": ColRegistrationNumber,
	"assignedTo": ColAssignedTo, "createdBy": ColCreatedBy, "updatedBy": ColUpdatedBy,
	"createdByUserType": ColCreatedByUserType,
}

var timeColumns = map[string]Column{
	"createdAt": ColCreatedAt, "updatedAt": ColUpdatedAt, "legalStatuses.REGISTERED.acceptedAt": ColRegisteredAt,
}

var locationColumns = map[string]Column{
	"createdAtLocation": ColCreatedAtLocation, "updatedAtLocation": ColUpdatedAtLocation,
	"legalStatuses.REGISTERED.createdAtLocation": ColRegisteredAtLocation,
	"legalStatuses.DECLARED.createdAtLocation":   ColDeclaredAtLocation,
}

func (p *queryParser) expression(key string, raw json.RawMessage, path string) ([]Filter, error) {
	if col, ok := exactColumns[key]; ok {
		m, err := parseMatch(raw, path)
		if err != nil {
			return nil, err
		}
		vals, err := m.values(path)
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			switch col {
			case ColTrackingID, ColRegistrationNumber:
				vals[i] = strings.ToUpper(strings.TrimSpace(v))
				if vals[i] == "" {
					// the store reads "" as "not set": a search for an empty
					// tracking id or number is a mistake, not "unregistered"
					return nil, badQuery("%s: the term must not be empty", path)
				}
			case ColStatus:
				if !containsStr(statusNames(), v) {
					return nil, badQuery("%s: unknown status '%s' (one of %s)", path, v, strings.Join(statusNames(), ", "))
				}
			case ColID:
				vals[i] = strings.ToLower(v)
			}
		}
		return p.add(Cond{Column: col, Op: OpIn, Values: vals})
	}
	if col, ok := timeColumns[key]; ok {
		m, err := parseMatch(raw, path)
		if err != nil {
			return nil, err
		}
		lo, hi, err := p.timeRange(m, path)
		if err != nil {
			return nil, err
		}
		return p.add(Cond{Column: col, Op: OpRange, Lo: lo, Hi: hi})
	}
	if col, ok := locationColumns[key]; ok {
		m, err := parseMatch(raw, path)
		if err != nil {
			return nil, err
		}
		ids, err := p.locations(m, path)
		if err != nil {
			return nil, err
		}
		return p.add(Cond{Column: col, Op: OpIn, Values: ids})
	}
	switch {
	case key == "flags":
		return p.flags(raw, path)
	case key == "data":
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			return nil, badQuery("%s: expected an object of field id -> match", path)
		}
		if len(fields) == 0 {
			// an empty group would match every event
			return nil, badQuery("%s: give at least one field id -> match", path)
		}
		var out []Filter
		for _, fid := range sortedKeys(fields) {
			fs, err := p.field(fid, fields[fid], path+"."+fid)
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
		}
		return out, nil
	case strings.HasPrefix(key, "data."):
		return p.field(strings.TrimPrefix(key, "data."), raw, path)
	}
	return nil, badQuery("%s: unknown search key '%s'", path, key)
}

func statusNames() []string {
	out := make([]string, len(AllEventStatuses))
	for i, s := range AllEventStatuses {
		out[i] = string(s)
	}
	return out
}

func (p *queryParser) flags(raw json.RawMessage, path string) ([]Filter, error) {
	var fl struct {
		AnyOf  []string `json:"anyOf"`
		NoneOf []string `json:"noneOf"`
		AllOf  []string `json:"allOf"`
	}
	if err := strictDecode(raw, &fl); err != nil {
		return nil, badQuery("%s: expected {anyOf?, noneOf?, allOf?}: %v", path, err)
	}
	if len(fl.AnyOf)+len(fl.NoneOf)+len(fl.AllOf) == 0 {
		return nil, badQuery("%s: give anyOf, noneOf or allOf", path)
	}
	var out []Filter
	for _, x := range []struct {
		op   Op
		vals []string
	}{{OpIn, fl.AnyOf}, {OpNotIn, fl.NoneOf}, {OpAllOf, fl.AllOf}} {
		if len(x.vals) == 0 {
			continue
		}
		if len(x.vals) > maxSearchTerms {
			return nil, badQuery("%s: too many flags", path)
		}
		fs, err := p.add(Cond{Column: ColFlag, Op: x.op, Values: x.vals})
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

func (p *queryParser) locations(m match, path string) ([]string, error) {
	switch m.Type {
	case "within":
		id := strings.ToLower(m.Location)
		if id == "" {
			if s, ok := rawString(m.Term); ok {
				id = strings.ToLower(s)
			}
		}
		if p.cc.Location(id) == nil {
			return nil, badQuery("%s.location: unknown location '%s'", path, id)
		}
		return p.cc.Subtree(id), nil
	case "exact", "anyOf":
		vals, err := m.values(path)
		if err != nil {
			return nil, err
		}
		for i := range vals {
			vals[i] = strings.ToLower(vals[i])
		}
		return vals, nil
	}
	return nil, badQuery("%s: type must be exact, anyOf or within", path)
}

// timeBound turns a date or datetime into a TimeLayout string; a bare date
// as an upper bound means the end of that day.
func timeBound(raw json.RawMessage, upper bool) (string, bool) {
	s, ok := rawString(raw)
	if !ok {
		return "", false
	}
	if d, err := time.Parse("2006-01-02", s); err == nil {
		if upper {
			d = d.Add(24*time.Hour - time.Nanosecond)
		}
		return FormatTime(d), true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return FormatTime(t), true
	}
	return "", false
}

var timePeriods = map[string]int{"last7Days": 7, "last30Days": 30, "last90Days": 90, "last365Days": 365}

func (p *queryParser) timeRange(m match, path string) (string, string, error) {
	switch m.Type {
	case "exact":
		lo, ok1 := timeBound(m.Term, false)
		hi, ok2 := timeBound(m.Term, true)
		if !ok1 || !ok2 {
			return "", "", badQuery("%s.term must be a date (YYYY-MM-DD) or an RFC 3339 time", path)
		}
		return lo, hi, nil
	case "range":
		var lo, hi string
		var ok bool
		if len(m.Gte) > 0 {
			if lo, ok = timeBound(m.Gte, false); !ok {
				return "", "", badQuery("%s.gte must be a date (YYYY-MM-DD) or an RFC 3339 time", path)
			}
		}
		if len(m.Lte) > 0 {
			if hi, ok = timeBound(m.Lte, true); !ok {
				return "", "", badQuery("%s.lte must be a date (YYYY-MM-DD) or an RFC 3339 time", path)
			}
		}
		if lo == "" && hi == "" {
			return "", "", badQuery("%s: a range needs gte or lte", path)
		}
		return lo, hi, nil
	case "timePeriod":
		s, _ := rawString(m.Term)
		days, ok := timePeriods[s]
		if !ok {
			return "", "", badQuery("%s.term must be one of last7Days, last30Days, last90Days, last365Days", path)
		}
		return FormatTime(p.now.AddDate(0, 0, -days)), "", nil
	}
	return "", "", badQuery("%s: type must be exact, range or timePeriod", path)
}

// fieldConfig finds a field id in any configured event type.
func (p *queryParser) fieldConfig(id string) *FieldConfig {
	for _, e := range p.cc.Events {
		if f := e.Field(id); f != nil {
			return f
		}
	}
	return nil
}

func (p *queryParser) field(id string, raw json.RawMessage, path string) ([]Filter, error) {
	f := p.fieldConfig(id)
	if f == nil {
		return nil, badQuery("%s: unknown field 'data.%s'", path, id)
	}
	m, err := parseMatch(raw, path)
	if err != nil {
		return nil, err
	}
	base := Cond{Column: ColField, FieldID: id, Kind: KindText, Op: OpIn}
	switch f.Type {
	case FieldDate:
		base.Kind = KindDate
		switch m.Type {
		case "exact", "anyOf":
			vals, err := m.values(path)
			if err != nil {
				return nil, err
			}
			for _, v := range vals {
				if _, err := time.Parse("2006-01-02", v); err != nil {
					return nil, badQuery("%s: '%s' is not a date YYYY-MM-DD", path, v)
				}
			}
			base.Values = vals
			return p.add(base)
		case "range":
			base.Op = OpRange
			for _, b := range []struct {
				raw json.RawMessage
				dst *string
				nm  string
			}{{m.Gte, &base.Lo, "gte"}, {m.Lte, &base.Hi, "lte"}} {
				if len(b.raw) == 0 {
					continue
				}
				s, ok := rawString(b.raw)
				if _, err := time.Parse("2006-01-02", s); !ok || err != nil {
					return nil, badQuery("%s.%s must be a date YYYY-MM-DD", path, b.nm)
				}
				*b.dst = s
			}
			if base.Lo == "" && base.Hi == "" {
				return nil, badQuery("%s: a range needs gte or lte", path)
			}
			return p.add(base)
		}
	case FieldNumber, FieldNumberWithUnit:
		base.Kind = KindNum
		num := func(raw json.RawMessage, nm string) (*float64, error) {
			s, ok := rawString(raw)
			v, err := strconv.ParseFloat(s, 64)
			if !ok || err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, badQuery("%s.%s must be a number", path, nm)
			}
			return &v, nil
		}
		switch m.Type {
		case "exact", "anyOf":
			vals, err := m.values(path)
			if err != nil {
				return nil, err
			}
			for _, v := range vals {
				n, err := num(json.RawMessage(strconv.Quote(v)), "term")
				if err != nil {
					return nil, err
				}
				base.Nums = append(base.Nums, *n)
			}
			return p.add(base)
		case "range":
			base.Op = OpRange
			if len(m.Gte) > 0 {
				if base.NumLo, err = num(m.Gte, "gte"); err != nil {
					return nil, err
				}
			}
			if len(m.Lte) > 0 {
				if base.NumHi, err = num(m.Lte, "lte"); err != nil {
					return nil, err
				}
			}
			if base.NumLo == nil && base.NumHi == nil {
				return nil, badQuery("%s: a range needs gte or lte", path)
			}
			return p.add(base)
		}
	case FieldLocation, FieldAddress:
		if m.Type == "within" || m.Type == "exact" || m.Type == "anyOf" {
			ids, err := p.locations(m, path)
			if err != nil {
				return nil, err
			}
			base.Values = ids
			return p.add(base)
		}
	case FieldName:
		if m.Type == "fuzzy" {
			return p.fuzzyName(id, m, path)
		}
		fallthrough
	default:
		switch m.Type {
		case "exact", "anyOf":
			vals, err := m.values(path)
			if err != nil {
				return nil, err
			}
			for i := range vals {
				vals[i] = NormalizeText(vals[i])
			}
			base.Values = vals
			return p.add(base)
		case "fuzzy":
			s, ok := rawString(m.Term)
			if !ok || NormalizeText(s) == "" {
				return nil, badQuery("%s.term must be a non-empty string", path)
			}
			base.Op, base.Values = OpPrefix, []string{NormalizeText(s)}
			return p.add(base)
		}
	}
	return nil, badQuery("%s: match type '%s' is not supported for a %s field", path, m.Type, f.Type)
}

// fuzzyName matches every word of the term against the name's words by
// prefix or by Soundex code.
func (p *queryParser) fuzzyName(id string, m match, path string) ([]Filter, error) {
	s, ok := rawString(m.Term)
	toks := Tokens(s)
	if !ok || len(toks) == 0 {
		return nil, badQuery("%s.term must be a non-empty name", path)
	}
	if len(toks) > 8 {
		return nil, badQuery("%s.term has too many words", path)
	}
	sort.Strings(toks)
	var out []Filter
	for _, tok := range toks {
		alts := Filter{Op: "or"}
		alts.Children = append(alts.Children, leaf(Cond{Column: ColField, FieldID: id, Kind: KindToken, Op: OpPrefix, Values: []string{tok}}))
		if sx := Soundex(tok); sx != "" {
			alts.Children = append(alts.Children, leaf(Cond{Column: ColField, FieldID: id, Kind: KindToken, Op: OpIn, Values: []string{soundexPrefix + sx}}))
		}
		p.conds += len(alts.Children)
		if p.conds > maxSearchConds {
			return nil, badQuery("a query may hold at most %d conditions", maxSearchConds)
		}
		out = append(out, alts)
	}
	return out, nil
}
