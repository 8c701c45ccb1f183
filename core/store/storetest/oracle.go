package storetest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
)

// Eval is the reference implementation of core.Store.Search: it runs f
// over rows in memory, by the documented semantics and nothing else, and
// returns the event ids of the page, in order, and the number of matches.
// The randomized differential test (RunOracle) compares every store with
// it.
//
// The semantics it pins down:
//
//   - Deleted rows never match.
//   - A group's Op is "and" (or "") or "or", in any case; an empty "and"
//     matches every row, an empty "or" none. A leaf ignores Op and Children.
//   - A column holds one value, "" (or a nil time) when unset. In matches a
//     value in the list ("" included: In "" finds the unset rows), NotIn
//     one not in it, AllOf every distinct value of the list (so two
//     distinct values never match, none always does), Prefix a value that
//     starts with one of the prefixes (bytewise). Range matches a set value
//     with Lo <= value <= Hi (bytewise; "" bounds open): an unset value is
//     in no range, not even an open one.
//   - On the time columns values and bounds are instants (RFC 3339 in any
//     offset, or a bare date: its first instant, or its last as an upper
//     bound), compared as instants.
//   - A flag condition is over the event's set of flags: In any of, NotIn
//     none of, AllOf all of, Prefix any flag with one of the prefixes.
//   - A field condition is over the event's rows of that field id and kind
//     (kind "" is text): In / Prefix / Range a row matches, AllOf each
//     distinct value has a row, NotIn no row has one of the values (an event
//     without the field matches). Text-kind values are Values, Lo, Hi;
//     number values are Nums, NumLo, NumHi, and must be finite.
//   - Order: the sort keys (default createdAt descending), unset values
//     first in ascending order, then the event id in the last key's
//     direction. Limit <= 0 means no limit; a negative Offset is 0.
func Eval(rows []core.IndexRow, f core.SearchFilter) (ids []string, total int, err error) {
	var match []*core.IndexRow
	for i := range rows {
		r := &rows[i]
		if r.Deleted {
			continue
		}
		ok, err := evalFilter(r, f.Where)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			match = append(match, r)
		}
	}
	keys := f.Sort
	if len(keys) == 0 {
		keys = []core.SortKey{{Column: core.ColCreatedAt, Desc: true}}
	}
	for _, k := range keys {
		if _, ok := sortValue(&core.IndexRow{}, k.Column); !ok {
			return nil, 0, fmt.Errorf("oracle: cannot sort by %q", k.Column)
		}
	}
	last := keys[len(keys)-1].Desc
	slices.SortStableFunc(match, func(a, b *core.IndexRow) int {
		for _, k := range keys {
			va, _ := sortValue(a, k.Column)
			vb, _ := sortValue(b, k.Column)
			c := cmp.Compare(va, vb)
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		c := cmp.Compare(a.EventID, b.EventID)
		if last {
			c = -c
		}
		return c
	})
	total = len(match)
	off := max(f.Offset, 0)
	if off > len(match) {
		off = len(match)
	}
	match = match[off:]
	if f.Limit > 0 && f.Limit < len(match) {
		match = match[:f.Limit]
	}
	ids = make([]string, len(match))
	for i, r := range match {
		ids[i] = r.EventID
	}
	return ids, total, nil
}

// oracleTimeLayout renders instants so that they compare as text in time
// order ("" for unset sorts first).
const oracleTimeLayout = "2006-01-02T15:04:05.000000000Z"

func oracleTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(oracleTimeLayout)
}

// sortValue returns the comparable value of a sortable column.
func sortValue(r *core.IndexRow, c core.Column) (string, bool) {
	switch c {
	case core.ColCreatedAt:
		return oracleTime(&r.CreatedAt), true
	case core.ColUpdatedAt:
		return oracleTime(&r.UpdatedAt), true
	case core.ColRegisteredAt:
		return oracleTime(r.RegisteredAt), true
	case core.ColTrackingID:
		return r.TrackingID, true
	case core.ColDateOfEvent:
		return r.DateOfEvent, true
	case core.ColStatus:
		return r.Status, true
	case core.ColType:
		return r.Type, true
	case core.ColRegistrationNumber:
		return r.RegistrationNumber, true
	}
	return "", false
}

// columnValue returns a filterable column's value ("" when unset) and
// whether it is a time column.
func columnValue(r *core.IndexRow, c core.Column) (v string, isTime, ok bool) {
	switch c {
	case core.ColID:
		return r.EventID, false, true
	case core.ColTrackingID:
		return r.TrackingID, false, true
	case core.ColType:
		return r.Type, false, true
	case core.ColStatus:
		return r.Status, false, true
	case core.ColCreatedAt:
		return oracleTime(&r.CreatedAt), true, true
	case core.ColUpdatedAt:
		return oracleTime(&r.UpdatedAt), true, true
	case core.ColRegisteredAt:
		return oracleTime(r.RegisteredAt), true, true
	case core.ColRegistrationNumber:
		return r.RegistrationNumber, false, true
	case core.ColCreatedAtLocation:
		return r.CreatedAtLocation, false, true
	case core.ColUpdatedAtLocation:
		return r.UpdatedAtLocation, false, true
	case core.ColDeclaredAtLocation:
		return r.DeclaredAtLocation, false, true
	case core.ColRegisteredAtLocation:
		return r.RegisteredAtLocation, false, true
	case core.ColAssignedTo:
		return r.AssignedTo, false, true
	case core.ColCreatedBy:
		return r.CreatedBy, false, true
	case core.ColUpdatedBy:
		return r.UpdatedBy, false, true
	case core.ColCreatedByUserType:
		return r.CreatedByUserType, false, true
	case core.ColDateOfEvent:
		return r.DateOfEvent, false, true
	case core.ColPlaceOfEvent:
		return r.PlaceOfEvent, false, true
	case core.ColDeclaredBy:
		return r.DeclaredBy, false, true
	case core.ColRegisteredBy:
		return r.RegisteredBy, false, true
	}
	return "", false, false
}

func evalFilter(r *core.IndexRow, f core.Filter) (bool, error) {
	if f.Cond != nil {
		return evalCond(r, f.Cond)
	}
	var isAnd bool
	switch strings.ToLower(f.Op) {
	case "and", "":
		isAnd = true
	case "or":
	default:
		return false, fmt.Errorf("oracle: unknown group %q", f.Op)
	}
	// Evaluate every child, so that an invalid one is an error whatever
	// the others match.
	res := isAnd
	for _, c := range f.Children {
		ok, err := evalFilter(r, c)
		if err != nil {
			return false, err
		}
		if isAnd {
			res = res && ok
		} else {
			res = res || ok
		}
	}
	return res, nil
}

// oracleInstant normalises a time value or bound (see Eval).
func oracleInstant(s string, upper bool) (string, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return oracleTime(&t), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return "", fmt.Errorf("oracle: bad timestamp %q", s)
	}
	if upper {
		t = t.Add(24*time.Hour - time.Nanosecond)
	}
	return oracleTime(&t), nil
}

func distinct(vs []string) []string {
	out := slices.Clone(vs)
	slices.Sort(out)
	return slices.Compact(out)
}

func hasPrefixOf(v string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

func evalCond(r *core.IndexRow, c *core.Cond) (bool, error) {
	switch c.Column {
	case core.ColFlag:
		return evalSet(r.Flags, c.Op, c.Values)
	case core.ColField:
		return evalField(r, c)
	}
	v, isTime, ok := columnValue(r, c.Column)
	if !ok {
		return false, fmt.Errorf("oracle: unknown column %q", c.Column)
	}
	vals := c.Values
	if isTime && c.Op != core.OpPrefix && c.Op != core.OpRange {
		vals = make([]string, len(c.Values))
		for i, s := range c.Values {
			t, err := oracleInstant(s, false)
			if err != nil {
				return false, err
			}
			vals[i] = t
		}
	}
	switch c.Op {
	case core.OpIn:
		return slices.Contains(vals, v), nil
	case core.OpNotIn:
		return !slices.Contains(vals, v), nil
	case core.OpAllOf:
		d := distinct(vals)
		return len(d) == 0 || (len(d) == 1 && d[0] == v), nil
	case core.OpPrefix:
		return hasPrefixOf(v, vals), nil
	case core.OpRange:
		lo, hi := c.Lo, c.Hi
		if isTime {
			var err error
			if lo != "" {
				if lo, err = oracleInstant(lo, false); err != nil {
					return false, err
				}
			}
			if hi != "" {
				if hi, err = oracleInstant(hi, true); err != nil {
					return false, err
				}
			}
		}
		return v != "" && (lo == "" || lo <= v) && (hi == "" || v <= hi), nil
	}
	return false, fmt.Errorf("oracle: unknown operator %q", c.Op)
}

// evalSet evaluates a condition over a set of values (flags, or the
// text values of a field's rows).
func evalSet(set []string, op core.Op, vals []string) (bool, error) {
	any := func() bool {
		for _, v := range vals {
			if slices.Contains(set, v) {
				return true
			}
		}
		return false
	}
	switch op {
	case core.OpIn:
		return any(), nil
	case core.OpNotIn:
		return !any(), nil
	case core.OpAllOf:
		for _, v := range vals {
			if !slices.Contains(set, v) {
				return false, nil
			}
		}
		return true, nil
	case core.OpPrefix:
		for _, s := range set {
			if hasPrefixOf(s, vals) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("oracle: operator %q is not supported on sets", op)
}

func evalField(r *core.IndexRow, c *core.Cond) (bool, error) {
	if c.FieldID == "" {
		return false, fmt.Errorf("oracle: field condition without a field id")
	}
	kind := c.Kind
	if kind == "" {
		kind = core.KindText
	}
	switch kind {
	case core.KindText, core.KindToken, core.KindDate, core.KindNum:
	default:
		return false, fmt.Errorf("oracle: unknown kind %q", c.Kind)
	}
	if kind == core.KindNum {
		for _, v := range c.Nums {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false, fmt.Errorf("oracle: number %v is not finite", v)
			}
		}
		for _, p := range []*float64{c.NumLo, c.NumHi} {
			if p != nil && (math.IsNaN(*p) || math.IsInf(*p, 0)) {
				return false, fmt.Errorf("oracle: number %v is not finite", *p)
			}
		}
	}
	var texts []string
	var nums []float64
	for _, f := range r.Fields {
		if f.FieldID == c.FieldID && f.Kind == kind {
			texts = append(texts, f.Text)
			nums = append(nums, f.Num)
		}
	}
	if kind != core.KindNum {
		if c.Op == core.OpRange {
			for _, t := range texts {
				if (c.Lo == "" || c.Lo <= t) && (c.Hi == "" || t <= c.Hi) {
					return true, nil
				}
			}
			return false, nil
		}
		return evalSet(texts, c.Op, c.Values)
	}
	switch c.Op {
	case core.OpIn, core.OpNotIn:
		found := false
		for _, n := range nums {
			if slices.Contains(c.Nums, n) {
				found = true
			}
		}
		return found == (c.Op == core.OpIn), nil
	case core.OpRange:
		for _, n := range nums {
			if (c.NumLo == nil || *c.NumLo <= n) && (c.NumHi == nil || n <= *c.NumHi) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("oracle: operator %q is not supported on number fields", c.Op)
}
