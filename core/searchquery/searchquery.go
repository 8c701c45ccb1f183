// Package searchquery reads the OpenCRVS v2.0 SearchQuery language
// ({query: {type: and|or, clauses: [...]}, limit, offset, sort}) into
// core's compiled search (core.SearchFilter), validated against the
// country configuration: what a store runs and core's Service.Search
// limits to the caller's scopes.
package searchquery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
)

// Query limits (beyond core's limit and offset bounds).
const (
	maxDepth = 6
	maxConds = 64
	maxTerms = 200
)

func leaf(c core.Cond) core.Filter { return core.Filter{Cond: &c} }

// isNull reports an absent or null JSON value.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func badQuery(format string, args ...any) *core.Error {
	return core.Errorf(core.KindInvalid, "INVALID_SEARCH", format, args...)
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

// Parse parses and compiles an OpenCRVS SearchQuery body:
// {query: {type: and|or, clauses: [...]}, limit, offset, sort}. Every
// error is a core.KindInvalid *core.Error naming what is wrong.
func Parse(body []byte, cc *core.CountryConfig, now time.Time) (core.SearchFilter, error) {
	var req struct {
		Query  json.RawMessage `json:"query"`
		Limit  *int            `json:"limit"`
		Offset *int            `json:"offset"`
		Sort   json.RawMessage `json:"sort"`
	}
	// A key given twice ({"query":A,"query":B}) would be decided by the
	// decoder (the last wins): refused, as on every write body.
	if json.Valid(body) {
		if err := core.CheckInputJSON(body); err != nil {
			return core.SearchFilter{}, badQuery("Invalid search body: %s", strings.TrimPrefix(err.Error(), "Invalid request body: "))
		}
	}
	if err := strictDecode(body, &req); err != nil {
		return core.SearchFilter{}, badQuery("Invalid search body: %v", err)
	}
	f := core.SearchFilter{Limit: core.DefaultSearchLimit}
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > core.MaxSearchLimit {
			return f, badQuery("limit must be between 1 and %d", core.MaxSearchLimit)
		}
		f.Limit = *req.Limit
	}
	if req.Offset != nil {
		if *req.Offset < 0 || *req.Offset > core.MaxSearchOffset {
			return f, badQuery("offset must be between 0 and %d", core.MaxSearchOffset)
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

var sortColumns = map[string]core.Column{
	"createdAt": core.ColCreatedAt, "updatedAt": core.ColUpdatedAt, "trackingId": core.ColTrackingID,
	"dateOfEvent": core.ColDateOfEvent, "legalStatuses.REGISTERED.acceptedAt": core.ColRegisteredAt,
	"status": core.ColStatus, "type": core.ColType, "eventType": core.ColType,
}

func parseSort(raw json.RawMessage) ([]core.SortKey, error) {
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
	var out []core.SortKey
	for i, it := range items {
		col, ok := sortColumns[it.Field]
		if !ok {
			return nil, badQuery("sort[%d].field: cannot sort by '%s'", i, it.Field)
		}
		switch it.Direction {
		case "", "asc":
			out = append(out, core.SortKey{Column: col})
		case "desc":
			out = append(out, core.SortKey{Column: col, Desc: true})
		default:
			return nil, badQuery("sort[%d].direction must be asc or desc", i)
		}
	}
	return out, nil
}

type queryParser struct {
	cc    *core.CountryConfig
	now   time.Time
	conds int
}

func (p *queryParser) clause(raw json.RawMessage, path string, depth int) (core.Filter, error) {
	if depth > maxDepth {
		return core.Filter{}, badQuery("%s: queries nest at most %d deep", path, maxDepth)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return core.Filter{}, badQuery("%s: expected an object", path)
	}
	if _, isGroup := obj["clauses"]; isGroup {
		var g struct {
			Type    string            `json:"type"`
			Clauses []json.RawMessage `json:"clauses"`
		}
		if err := strictDecode(raw, &g); err != nil {
			return core.Filter{}, badQuery("%s: a group is {type, clauses}: %v", path, err)
		}
		if g.Type != "and" && g.Type != "or" {
			return core.Filter{}, badQuery("%s.type must be 'and' or 'or'", path)
		}
		if len(g.Clauses) == 0 {
			return core.Filter{}, badQuery("%s.clauses must not be empty", path)
		}
		out := core.Filter{Op: g.Type}
		for i, c := range g.Clauses {
			child, err := p.clause(c, fmt.Sprintf("%s.clauses[%d]", path, i), depth+1)
			if err != nil {
				return core.Filter{}, err
			}
			out.Children = append(out.Children, child)
		}
		return out, nil
	}
	if len(obj) == 0 {
		return core.Filter{}, badQuery("%s: an expression needs at least one key", path)
	}
	out := core.Filter{Op: "and"}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		fs, err := p.expression(k, obj[k], path+"."+k)
		if err != nil {
			return core.Filter{}, err
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
	if len(m.Terms) > maxTerms {
		return m, badQuery("%s: at most %d terms", path, maxTerms)
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

func (p *queryParser) add(c core.Cond) ([]core.Filter, error) {
	p.conds++
	if p.conds > maxConds {
		return nil, badQuery("a query may hold at most %d conditions", maxConds)
	}
	return []core.Filter{leaf(c)}, nil
}

var exactColumns = map[string]core.Column{
	"id": core.ColID, "trackingId": core.ColTrackingID, "eventType": core.ColType, "status": core.ColStatus,
	"legalStatuses.REGISTERED.registrationNumber": core.ColRegistrationNumber,
	"assignedTo": core.ColAssignedTo, "createdBy": core.ColCreatedBy, "updatedBy": core.ColUpdatedBy,
	"createdByUserType": core.ColCreatedByUserType,
}

var timeColumns = map[string]core.Column{
	"createdAt": core.ColCreatedAt, "updatedAt": core.ColUpdatedAt, "legalStatuses.REGISTERED.acceptedAt": core.ColRegisteredAt,
}

var locationColumns = map[string]core.Column{
	"createdAtLocation": core.ColCreatedAtLocation, "updatedAtLocation": core.ColUpdatedAtLocation,
	"legalStatuses.REGISTERED.createdAtLocation": core.ColRegisteredAtLocation,
	"legalStatuses.DECLARED.createdAtLocation":   core.ColDeclaredAtLocation,
}

func (p *queryParser) expression(key string, raw json.RawMessage, path string) ([]core.Filter, error) {
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
			case core.ColTrackingID, core.ColRegistrationNumber:
				vals[i] = strings.ToUpper(strings.TrimSpace(v))
				if vals[i] == "" {
					// the store reads "" as "not set": a search for an empty
					// tracking id or number is a mistake, not "unregistered"
					return nil, badQuery("%s: the term must not be empty", path)
				}
			case core.ColStatus:
				if !slices.Contains(statusNames(), v) {
					return nil, badQuery("%s: unknown status '%s' (one of %s)", path, v, strings.Join(statusNames(), ", "))
				}
			case core.ColID:
				vals[i] = strings.ToLower(v)
			}
		}
		return p.add(core.Cond{Column: col, Op: core.OpIn, Values: vals})
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
		return p.add(core.Cond{Column: col, Op: core.OpRange, Lo: lo, Hi: hi})
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
		return p.add(core.Cond{Column: col, Op: core.OpIn, Values: ids})
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
		var out []core.Filter
		for _, fid := range slices.Sorted(maps.Keys(fields)) {
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
	out := make([]string, len(core.AllEventStatuses))
	for i, s := range core.AllEventStatuses {
		out[i] = string(s)
	}
	return out
}

func (p *queryParser) flags(raw json.RawMessage, path string) ([]core.Filter, error) {
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
	var out []core.Filter
	for _, x := range []struct {
		op   core.Op
		vals []string
	}{{core.OpIn, fl.AnyOf}, {core.OpNotIn, fl.NoneOf}, {core.OpAllOf, fl.AllOf}} {
		if len(x.vals) == 0 {
			continue
		}
		if len(x.vals) > maxTerms {
			return nil, badQuery("%s: too many flags", path)
		}
		fs, err := p.add(core.Cond{Column: core.ColFlag, Op: x.op, Values: x.vals})
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
		return core.FormatTime(d), true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return core.FormatTime(t), true
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
		return core.FormatTime(p.now.AddDate(0, 0, -days)), "", nil
	}
	return "", "", badQuery("%s: type must be exact, range or timePeriod", path)
}

// fieldConfig finds a field id in any configured event type.
func (p *queryParser) fieldConfig(id string) *core.FieldConfig {
	for _, e := range p.cc.Events {
		if f := e.Field(id); f != nil {
			return f
		}
	}
	return nil
}

func (p *queryParser) field(id string, raw json.RawMessage, path string) ([]core.Filter, error) {
	f := p.fieldConfig(id)
	if f == nil {
		return nil, badQuery("%s: unknown field 'data.%s'", path, id)
	}
	m, err := parseMatch(raw, path)
	if err != nil {
		return nil, err
	}
	base := core.Cond{Column: core.ColField, FieldID: id, Kind: core.KindText, Op: core.OpIn}
	switch f.Type {
	case core.FieldDate:
		base.Kind = core.KindDate
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
			base.Op = core.OpRange
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
	case core.FieldNumber, core.FieldNumberWithUnit:
		base.Kind = core.KindNum
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
			base.Op = core.OpRange
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
	case core.FieldLocation, core.FieldAddress:
		if m.Type == "within" || m.Type == "exact" || m.Type == "anyOf" {
			ids, err := p.locations(m, path)
			if err != nil {
				return nil, err
			}
			base.Values = ids
			return p.add(base)
		}
	case core.FieldName:
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
				vals[i] = core.NormalizeText(vals[i])
			}
			base.Values = vals
			return p.add(base)
		case "fuzzy":
			s, ok := rawString(m.Term)
			if !ok || core.NormalizeText(s) == "" {
				return nil, badQuery("%s.term must be a non-empty string", path)
			}
			base.Op, base.Values = core.OpPrefix, []string{core.NormalizeText(s)}
			return p.add(base)
		}
	}
	return nil, badQuery("%s: match type '%s' is not supported for a %s field", path, m.Type, f.Type)
}

// fuzzyName matches every word of the term against the name's words by
// prefix or by Soundex code.
func (p *queryParser) fuzzyName(id string, m match, path string) ([]core.Filter, error) {
	s, ok := rawString(m.Term)
	toks := core.Tokens(s)
	if !ok || len(toks) == 0 {
		return nil, badQuery("%s.term must be a non-empty name", path)
	}
	if len(toks) > 8 {
		return nil, badQuery("%s.term has too many words", path)
	}
	slices.Sort(toks)
	var out []core.Filter
	for _, tok := range toks {
		alts := core.Filter{Op: "or"}
		alts.Children = append(alts.Children, leaf(core.Cond{Column: core.ColField, FieldID: id, Kind: core.KindToken, Op: core.OpPrefix, Values: []string{tok}}))
		if sx := core.Soundex(tok); sx != "" {
			alts.Children = append(alts.Children, leaf(core.Cond{Column: core.ColField, FieldID: id, Kind: core.KindToken, Op: core.OpIn, Values: []string{core.SoundexPrefix + sx}}))
		}
		p.conds += len(alts.Children)
		if p.conds > maxConds {
			return nil, badQuery("a query may hold at most %d conditions", maxConds)
		}
		out = append(out, alts)
	}
	return out, nil
}
