package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/crvshub/crvshub/core"
)

// columnKind says how a column's values are compared.
type columnKind int

const (
	textColumn columnKind = iota
	timeColumn            // RFC 3339 timestamps, stored in timeLayout
)

type column struct {
	name string
	kind columnKind
	// sparse is the condition of the column's partial index besides
	// deleted = 0 (see migration 0002): "<> ''" for text columns that are
	// empty when unset, "IS NOT NULL" for NULLable ones. A condition on the
	// column repeats it, or the planner cannot use that index.
	sparse string
	// null says the column is NULL, not "", when unset (it is UNIQUE
	// when set). Conditions still treat an unset value as "" (see
	// valueExpr).
	null bool
}

// columns maps the searchable columns (all but ColFlag and ColField) to
// events_index columns, each of which has an index but created_by_user_type
// (too few distinct values for an index to pay for itself).
var columns = map[core.Column]column{
	core.ColID:                   {name: "ei.event_id", kind: textColumn},
	core.ColTrackingID:           {name: "ei.tracking_id", kind: textColumn},
	core.ColType:                 {name: "ei.type", kind: textColumn},
	core.ColStatus:               {name: "ei.status", kind: textColumn},
	core.ColCreatedAt:            {name: "ei.created_at", kind: timeColumn},
	core.ColUpdatedAt:            {name: "ei.updated_at", kind: timeColumn},
	core.ColRegistrationNumber:   {name: "ei.registration_number", kind: textColumn, null: true},
	core.ColRegisteredAt:         {name: "ei.registered_at", kind: timeColumn, sparse: "IS NOT NULL", null: true},
	core.ColCreatedAtLocation:    {name: "ei.created_at_location", kind: textColumn},
	core.ColUpdatedAtLocation:    {name: "ei.updated_at_location", kind: textColumn},
	core.ColDeclaredAtLocation:   {name: "ei.declared_at_location", kind: textColumn, sparse: "<> ''"},
	core.ColRegisteredAtLocation: {name: "ei.registered_at_location", kind: textColumn, sparse: "<> ''"},
	core.ColAssignedTo:           {name: "ei.assigned_to", kind: textColumn, sparse: "<> ''"},
	core.ColCreatedBy:            {name: "ei.created_by", kind: textColumn},
	core.ColUpdatedBy:            {name: "ei.updated_by", kind: textColumn},
	core.ColCreatedByUserType:    {name: "ei.created_by_user_type", kind: textColumn},
	core.ColDateOfEvent:          {name: "ei.date_of_event", kind: textColumn},
	core.ColPlaceOfEvent:         {name: "ei.place_of_event", kind: textColumn},
	core.ColDeclaredBy:           {name: "ei.declared_by", kind: textColumn, sparse: "<> ''"},
	core.ColRegisteredBy:         {name: "ei.registered_by", kind: textColumn, sparse: "<> ''"},
}

// maxInlineValues is the longest value list written as "IN (?, ?, ...)";
// longer ones (location subtrees) are passed as one JSON array parameter
// and read with json_each, which keeps the SQL text, and so the prepared
// statement, the same whatever the list's length.
const maxInlineValues = 32

// invalid reports a filter the store cannot run.
func invalid(format string, args ...any) error {
	return core.Errorf(core.KindInvalid, "INVALID_SEARCH", "sqlite: "+format, args...)
}

// query is a WHERE clause being built, with its parameters.
type query struct {
	sb   strings.Builder
	args []any
	// walk writes "+ei.rid IN (field subquery)": the unary plus keeps the
	// planner from driving the query by the subquery's rids, so that it
	// walks an index in ORDER BY order instead and stops at the page's end
	// (see Search). The value tested, and so the result, is the same.
	walk bool
	// fields counts the "ei.rid IN (field subquery)" terms written.
	fields int
	// set writes field subqueries bare, "SELECT rid FROM event_fields
	// WHERE ... )", for fieldSet (which opens the parenthesis).
	set bool
	// typeFilter writes event type conditions as "+ei.type", which the
	// planner cannot answer from events_index_type: set when the filter
	// holds any other condition. Without statistics (no ANALYZE) SQLite
	// takes "type = ?" for a selective lookup and, for a client whose
	// scope names event types, walks every event of the type testing
	// each against the field subquery (100 ms at 400k events) instead of
	// reading the few rows the field lookup finds. A search by type alone
	// still uses the index.
	typeFilter bool
}

// onlyType reports whether every condition of f is on the event type.
func onlyType(f core.Filter) bool {
	if f.Cond != nil {
		return f.Cond.Column == core.ColType
	}
	for _, c := range f.Children {
		if !onlyType(c) {
			return false
		}
	}
	return true
}

func (q *query) w(s string) { q.sb.WriteString(s) }
func (q *query) arg(v any)  { q.sb.WriteByte('?'); q.args = append(q.args, v) }

// in writes "expr IN (...)" for a non-empty list of values.
func (q *query) in(expr string, vals []any) {
	q.w(expr)
	switch {
	case len(vals) == 1:
		q.w(" = ")
		q.arg(vals[0])
	case len(vals) <= maxInlineValues:
		q.w(" IN (")
		for i, v := range vals {
			if i > 0 {
				q.w(", ")
			}
			q.arg(v)
		}
		q.w(")")
	default:
		b, _ := json.Marshal(vals) // strings and finite float64s (fieldCond) cannot fail
		q.w(" IN (SELECT value FROM json_each(")
		q.arg(string(b))
		q.w("))")
	}
}

// notDeleted is the WHERE clause of every search index of events_index
// (they are partial indexes): a query can use them only where it says so.
const notDeleted = "ei.deleted = 0"

// compileSearch turns a filter into the WHERE clause (deleted rows always
// excluded) and ORDER BY clause of a query over "events_index ei".
func compileSearch(f core.SearchFilter) (where string, args []any, order string, err error) {
	q, order, err := compileQuery(f, false)
	if err != nil {
		return "", nil, "", err
	}
	return q.sb.String(), q.args, order, nil
}

// compileQuery compiles a filter as compileSearch does, with
// "+ei.rid IN (field subquery)" terms if walk is set.
func compileQuery(f core.SearchFilter, walk bool) (*query, string, error) {
	q := &query{walk: walk, typeFilter: !onlyType(f.Where)}
	q.w(notDeleted + " AND ")
	if err := q.filter(f.Where); err != nil {
		return nil, "", err
	}
	order, err := compileOrder(f.Sort)
	if err != nil {
		return nil, "", err
	}
	return q, order, nil
}

// setDepth is the group nesting from which a subtree made only of field
// conditions is written as one "ei.rid IN (set of field rows)" term (see
// fieldSet) rather than a tree of subquery terms: SQLite's planner tries
// every way of answering each branch of each OR by indexes, and a tree of
// and/or groups several levels deep (a query may nest six) costs it
// combinations without end ("no query solution"). One or two levels,
// a fuzzy name of a few words, keep the tuned plans.
const setDepth = 3

// opaqueDepth is the nesting from which a group of any other kind is
// written as "+(...)": an expression the planner evaluates on each row
// but does not take apart into index lookups. The levels above it still
// choose the plan.
const opaqueDepth = 4

// groupDepth is the nesting of groups in f (a leaf is 0).
func groupDepth(f core.Filter) int {
	if f.Cond != nil {
		return 0
	}
	d := 0
	for _, c := range f.Children {
		d = max(d, groupDepth(c))
	}
	return d + 1
}

func (q *query) filter(f core.Filter) error {
	return q.filterAt(f, 0)
}

// filterAt writes f, a group at nesting depth (0 for the whole filter).
func (q *query) filterAt(f core.Filter, depth int) error {
	if f.Cond != nil {
		return q.cond(f.Cond)
	}
	if !q.set && groupDepth(f) >= setDepth {
		sq := &query{set: true}
		if sq.fieldSet(f) {
			if q.walk {
				q.w("+")
			}
			q.fields++
			q.w("ei.rid IN (SELECT rid FROM (" + sq.sb.String() + "))")
			q.args = append(q.args, sq.args...)
			return nil
		}
	}
	if depth >= opaqueDepth {
		q.w("+")
	}
	var join, empty string
	switch strings.ToLower(f.Op) {
	case "and", "":
		join, empty = " AND ", "1"
	case "or":
		join, empty = " OR ", "0"
	default:
		return invalid("unknown filter group %q", f.Op)
	}
	if len(f.Children) == 0 {
		q.w(empty)
		return nil
	}
	q.w("(")
	for i, c := range f.Children {
		if i > 0 {
			q.w(join)
		}
		if join == " OR " {
			// SQLite plans each branch of an OR on its own, and the
			// partial (deleted = 0) indexes are usable in a branch only
			// if the branch itself says deleted = 0.
			q.w(notDeleted + " AND ")
		}
		if err := q.filterAt(c, depth+1); err != nil {
			return err
		}
	}
	q.w(")")
	return nil
}

func strs(vs []string) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// ptrNums returns the set ones of ps.
func ptrNums(ps ...*float64) []float64 {
	var out []float64
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

func nums(vs []float64) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// dedupe drops repeated values (AllOf counts distinct ones).
func dedupe(vs []string) []string {
	seen := make(map[string]bool, len(vs))
	out := vs[:0:0]
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// prefixEnd returns the smallest string greater than every string that
// starts with p, and false when there is none (p is all 0xff bytes, which
// UTF-8 text never contains). SQLite compares text bytewise (BINARY), so
// "x >= p AND x < prefixEnd(p)" is exactly "x starts with p", and an index
// on x answers it with one range scan.
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// prefix writes "(expr >= ? AND expr < ?)" for each prefix, OR-ed. guard,
// if set, is repeated in each branch (see notDeleted).
func (q *query) prefix(expr string, prefixes []string, guard string) {
	if len(prefixes) == 0 {
		q.w("0")
		return
	}
	q.w("(")
	for i, p := range prefixes {
		if i > 0 {
			q.w(" OR ")
		}
		q.w("(")
		if guard != "" && len(prefixes) > 1 {
			q.w(guard + " AND ")
		}
		q.w(expr + " >= ")
		q.arg(p)
		if end, ok := prefixEnd(p); ok {
			q.w(" AND " + expr + " < ")
			q.arg(end)
		}
		q.w(")")
	}
	q.w(")")
}

// textRange writes "lo <= expr <= hi" with open ends; with none it matches
// every row with a value.
func (q *query) textRange(expr string, lo, hi any) {
	switch {
	case lo != nil && hi != nil:
		q.w(expr + " BETWEEN ")
		q.arg(lo)
		q.w(" AND ")
		q.arg(hi)
	case lo != nil:
		q.w(expr + " >= ")
		q.arg(lo)
	case hi != nil:
		q.w(expr + " <= ")
		q.arg(hi)
	default:
		q.w(expr + " IS NOT NULL")
	}
}

// normTime turns a timestamp bound into the stored layout. A bare date is
// the start of that day as a lower bound and its last instant as an upper
// bound, so a date range includes both end days.
func normTime(s string, upper bool) (string, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return formatTime(t), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return "", invalid("bad timestamp %q", s)
	}
	if upper {
		t = t.Add(24*time.Hour - time.Nanosecond)
	}
	return formatTime(t), nil
}

func (q *query) cond(c *core.Cond) error {
	switch c.Column {
	case core.ColFlag:
		return q.flagCond(c)
	case core.ColField:
		return q.fieldCond(c)
	}
	col, ok := columns[c.Column]
	if !ok {
		return invalid("unknown search column %q", c.Column)
	}
	if c.Column == core.ColType && q.typeFilter {
		col.name = "+" + col.name
	}
	vals := c.Values
	if col.kind == timeColumn && c.Op != core.OpPrefix {
		vals = make([]string, len(c.Values))
		for i, v := range c.Values {
			t, err := normTime(v, false)
			if err != nil {
				return err
			}
			vals[i] = t
		}
	}
	switch c.Op {
	case core.OpIn:
		if len(vals) == 0 {
			q.w("0")
			return nil
		}
		q.sparseIn(col, vals)
	case core.OpNotIn:
		if len(vals) == 0 {
			q.w("1")
			return nil
		}
		if expr := col.valueExpr(vals); expr != col.name {
			q.w("NOT ")
			q.in(expr, strs(vals))
			return nil
		}
		q.w("(" + col.name + " IS NULL OR NOT ")
		q.in(col.name, strs(vals))
		q.w(")")
	case core.OpAllOf:
		// A column holds one value: all of several distinct values never
		// match, one value is equality.
		vals = dedupe(vals)
		switch len(vals) {
		case 0:
			q.w("1")
		case 1:
			q.sparseIn(col, vals)
		default:
			q.w("0")
		}
	case core.OpRange:
		var lo, hi any
		if c.Lo != "" {
			lo = c.Lo
		}
		if c.Hi != "" {
			hi = c.Hi
		}
		if col.kind == timeColumn {
			if c.Lo != "" {
				t, err := normTime(c.Lo, false)
				if err != nil {
					return err
				}
				lo = t
			}
			if c.Hi != "" {
				t, err := normTime(c.Hi, true)
				if err != nil {
					return err
				}
				hi = t
			}
		}
		// The empty value means "unset" (an event without a date of
		// event, a declarer, ...): a range, even an open one, never
		// matches it, whether the column has a sparse index or not.
		unset := col.sparse
		if unset == "" && col.kind == textColumn {
			unset = "<> ''"
		}
		if unset != "" {
			q.w("(" + col.name + " " + unset + " AND ")
			q.textRange(col.name, lo, hi)
			q.w(")")
		} else {
			q.textRange(col.name, lo, hi)
		}
	case core.OpPrefix:
		if expr := col.valueExpr(vals); expr != col.name {
			// The empty prefix matches every row, unset ones too.
			q.w("1")
			return nil
		}
		guard := notDeleted
		if col.sparse != "" && !slices.Contains(vals, "") {
			// A non-empty prefix never matches the empty value.
			guard += " AND " + col.name + " " + col.sparse
		}
		if len(vals) == 1 && guard != notDeleted {
			// prefix repeats the guard only in the branches of several.
			q.w("(" + col.name + " " + col.sparse + " AND ")
			q.prefix(col.name, vals, guard)
			q.w(")")
		} else {
			q.prefix(col.name, vals, guard)
		}
	default:
		return invalid("unknown operator %q on %s", c.Op, c.Column)
	}
	return nil
}

// sparseIn writes "col IN (vals)", with the column's partial-index
// condition when it has one and the values do not include the empty one
// (which the partial index does not hold, so the term would be wrong).
func (q *query) sparseIn(col column, vals []string) {
	if col.sparse == "" || slices.Contains(vals, "") {
		q.in(col.valueExpr(vals), strs(vals))
		return
	}
	q.w("(" + col.name + " " + col.sparse + " AND ")
	q.in(col.name, strs(vals))
	q.w(")")
}

// valueExpr returns the expression conditions with values vals compare:
// the column, or "ifnull(col, ”)" for a NULL-when-unset column when vals
// hold the empty value, which stands for "unset" (as it does on the
// columns that store it: AssignedTo "" finds the unassigned events). No
// index serves that form, but no index holds the unset rows either.
func (c column) valueExpr(vals []string) string {
	if c.null && slices.Contains(vals, "") {
		return "ifnull(" + c.name + ", '')"
	}
	return c.name
}

const flagSubquery = "SELECT rid FROM event_flags WHERE "

func (q *query) flagCond(c *core.Cond) error {
	vals := dedupe(c.Values)
	switch c.Op {
	case core.OpIn: // any of
		if len(vals) == 0 {
			q.w("0")
			return nil
		}
		q.w("ei.rid IN (" + flagSubquery)
		q.in("flag", strs(vals))
		q.w(")")
	case core.OpNotIn: // none of
		if len(vals) == 0 {
			q.w("1")
			return nil
		}
		q.w("ei.rid NOT IN (" + flagSubquery)
		q.in("flag", strs(vals))
		q.w(")")
	case core.OpAllOf:
		if len(vals) == 0 {
			q.w("1")
			return nil
		}
		q.w("(")
		for i, v := range vals {
			if i > 0 {
				q.w(" AND ")
			}
			q.w("ei.rid IN (" + flagSubquery + "flag = ")
			q.arg(v)
			q.w(")")
		}
		q.w(")")
	case core.OpPrefix:
		q.w("ei.rid IN (" + flagSubquery)
		q.prefix("flag", vals, "")
		q.w(")")
	default:
		return invalid("operator %q is not supported on flags", c.Op)
	}
	return nil
}

const fieldSubquery = "SELECT rid FROM event_fields WHERE field_id = "

// fieldSub opens "ei.rid [NOT] IN (SELECT rid ... WHERE field_id = ? AND
// kind = ? AND "; the caller writes the value condition and ")". Number
// rows have text = ”, which keeps a number range on the primary key of
// event_fields (field_id, kind, text, num, rid).
func (q *query) fieldSub(c *core.Cond, kind core.ValueKind, not bool) {
	switch {
	case q.set:
		q.w(fieldSubquery)
	case not:
		q.w("ei.rid NOT IN (" + fieldSubquery)
	case q.walk:
		q.fields++
		q.w("+ei.rid IN (" + fieldSubquery)
	default:
		q.fields++
		q.w("ei.rid IN (" + fieldSubquery)
	}
	q.arg(c.FieldID)
	q.w(" AND kind = ")
	q.arg(string(kind))
	q.w(" AND ")
	if kind == core.KindNum {
		q.w("text = '' AND ")
	}
}

func (q *query) fieldCond(c *core.Cond) error {
	if c.FieldID == "" {
		return invalid("field condition without a field id")
	}
	kind := c.Kind
	if kind == "" {
		kind = core.KindText
	}
	switch kind {
	case core.KindText, core.KindToken, core.KindDate, core.KindNum:
	default:
		return invalid("unknown value kind %q for field %s", c.Kind, c.FieldID)
	}
	isNum := kind == core.KindNum
	if isNum {
		// NaN and the infinities are no numbers a field holds, and a long
		// list of them would not even encode as JSON (see query.in).
		for _, v := range append(slices.Clip(c.Nums), ptrNums(c.NumLo, c.NumHi)...) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return invalid("number %v for field %s is not finite", v, c.FieldID)
			}
		}
	}
	valueCol := "text"
	var vals []any
	if isNum {
		valueCol = "num"
		vals = nums(c.Nums)
	} else {
		vals = strs(c.Values)
	}
	switch c.Op {
	case core.OpIn, core.OpNotIn:
		if len(vals) == 0 {
			if c.Op == core.OpIn {
				q.w("0")
			} else {
				q.w("1")
			}
			return nil
		}
		q.fieldSub(c, kind, c.Op == core.OpNotIn)
		q.in(valueCol, vals)
		q.w(")")
	case core.OpAllOf:
		if isNum {
			return invalid("allOf is not supported on number field %s", c.FieldID)
		}
		vs := dedupe(c.Values)
		if len(vs) == 0 {
			q.w("1")
			return nil
		}
		q.w("(")
		for i, v := range vs {
			if i > 0 {
				q.w(" AND ")
			}
			q.fieldSub(c, kind, false)
			q.in(valueCol, []any{v})
			q.w(")")
		}
		q.w(")")
	case core.OpRange:
		var lo, hi any
		if isNum {
			if c.NumLo != nil {
				lo = *c.NumLo
			}
			if c.NumHi != nil {
				hi = *c.NumHi
			}
		} else {
			if c.Lo != "" {
				lo = c.Lo
			}
			if c.Hi != "" {
				hi = c.Hi
			}
		}
		q.fieldSub(c, kind, false)
		q.textRange(valueCol, lo, hi)
		q.w(")")
	case core.OpPrefix:
		if isNum {
			return invalid("prefix is not supported on number field %s", c.FieldID)
		}
		q.fieldSub(c, kind, false)
		q.prefix(valueCol, c.Values, "")
		q.w(")")
	default:
		return invalid("unknown operator %q on field %s", c.Op, c.FieldID)
	}
	return nil
}

// fieldSet writes a SELECT of the rids of the events f matches, from
// event_fields alone: a condition's field rows, INTERSECT for "and",
// UNION for "or". It reports false, leaving q unusable, when f holds
// anything else (a column, a flag, "not in", allOf, an empty group or
// value list). Deleted events have no field rows (migration 0004), so
// the set holds live events only: exactly those the WHERE clause of
// compileSearch matches.
func (q *query) fieldSet(f core.Filter) bool {
	if c := f.Cond; c != nil {
		if c.Column != core.ColField {
			return false
		}
		switch c.Op {
		case core.OpIn:
			// An empty list matches nothing and compiles to "0", which is
			// no SELECT. The list is Nums for a number field, Values for
			// the others: the other one is ignored, even if it is set.
			if c.Kind == core.KindNum && len(c.Nums) == 0 || c.Kind != core.KindNum && len(c.Values) == 0 {
				return false
			}
		case core.OpPrefix:
			if len(c.Values) == 0 {
				return false
			}
		case core.OpRange:
		default:
			return false
		}
		q.w("SELECT rid FROM (")
		return q.fieldCond(c) == nil
	}
	var join string
	switch strings.ToLower(f.Op) {
	case "and", "":
		join = " INTERSECT "
	case "or":
		join = " UNION "
	default:
		return false
	}
	if len(f.Children) == 0 {
		return false
	}
	for i, c := range f.Children {
		if i > 0 {
			q.w(join)
		}
		q.w("SELECT rid FROM (")
		if !q.fieldSet(c) {
			return false
		}
		q.w(")")
	}
	return true
}

// compileFieldCount returns a query counting the events f matches from
// event_fields alone, or ok false when f is not made only of field
// conditions (see fieldSet).
func compileFieldCount(f core.SearchFilter) (countSQL string, args []any, ok bool) {
	q := &query{set: true}
	q.w("SELECT count(DISTINCT rid) FROM (")
	if !q.fieldSet(f.Where) {
		return "", nil, false
	}
	q.w(")")
	return q.sb.String(), q.args, true
}

// sortColumns are the columns results can be ordered by.
var sortColumns = map[core.Column]string{
	core.ColCreatedAt:          "ei.created_at",
	core.ColUpdatedAt:          "ei.updated_at",
	core.ColTrackingID:         "ei.tracking_id",
	core.ColDateOfEvent:        "ei.date_of_event",
	core.ColRegisteredAt:       "ei.registered_at",
	core.ColStatus:             "ei.status",
	core.ColType:               "ei.type",
	core.ColRegistrationNumber: "ei.registration_number",
}

// compileOrder builds ORDER BY: the sort keys (default createdAt
// descending), then the event id in the last key's direction so that pages
// are stable.
func compileOrder(keys []core.SortKey) (string, error) {
	if len(keys) == 0 {
		keys = []core.SortKey{{Column: core.ColCreatedAt, Desc: true}}
	}
	var sb strings.Builder
	desc := false
	for _, k := range keys {
		col, ok := sortColumns[k.Column]
		if !ok {
			return "", invalid("cannot sort by %q", k.Column)
		}
		sb.WriteString(col)
		desc = k.Desc
		if desc {
			sb.WriteString(" DESC")
		}
		sb.WriteString(", ")
	}
	sb.WriteString("ei.event_id")
	if desc {
		sb.WriteString(" DESC")
	}
	return sb.String(), nil
}

// sqlDocs reads the documents of a page of rids.
const sqlDocs = "SELECT rid, doc FROM events_index_docs WHERE rid IN (SELECT value FROM json_each(?))"

// Search runs a compiled filter and returns one page of EventIndex
// documents and the number of matching events. Limit <= 0 means no limit.
//
// It runs three queries in one read transaction (one snapshot): the rids
// of the page, from the small events_index rows and their indexes; the
// documents of just those rids; and, unless the page shows where the
// results end, the count.
func (s *Store) Search(ctx context.Context, f core.SearchFilter) (core.SearchPage, error) {
	q, order, err := compileQuery(f, false)
	if err != nil {
		return core.SearchPage{}, err
	}
	where, args := q.sb.String(), q.args
	limit, offset := int64(f.Limit), int64(f.Offset)
	if limit <= 0 {
		limit = -1
	}
	if offset < 0 {
		offset = 0
	}
	pageSQL := "SELECT ei.rid FROM events_index ei WHERE " + where + " ORDER BY " + order + " LIMIT ? OFFSET ?"
	countSQL := "SELECT count(*) FROM events_index ei WHERE " + where
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return core.SearchPage{}, fmt.Errorf("sqlite: search: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to lose

	// A search by field values is answered from the rids of the matching
	// field rows, each looked up in events_index, all of them sorted: its
	// cost grows with the number of matches. When they are many (a common
	// name, a sound-alike class), walking events_index in ORDER BY order
	// and testing each row against the subqueries finds one page much
	// sooner. So such searches count first, and walk when the matches are
	// dense enough (see denseEnough).
	total := int64(-1)
	if limit > 0 && q.fields > 0 {
		countSQL, countArgs := countSQL, args
		if fsql, fargs, ok := compileFieldCount(f); ok {
			countSQL, countArgs = fsql, fargs
		}
		// One statement for the count and the bound of the rows to walk.
		countSQL = "SELECT (" + countSQL + "), (" + sqlMaxRid + ")"
		countSt, err := s.srch.get(ctx, countSQL)
		if err != nil {
			return core.SearchPage{}, err
		}
		var maxRid sql.NullInt64
		if err := queryRowIn(ctx, tx, countSt, countSQL, countArgs).Scan(&total, &maxRid); err != nil {
			return core.SearchPage{}, fmt.Errorf("sqlite: search count: %w", err)
		}
		if offset >= total {
			if err := tx.Commit(); err != nil {
				return core.SearchPage{}, fmt.Errorf("sqlite: search: %w", err)
			}
			return core.SearchPage{Results: []json.RawMessage{}, Total: int(total)}, nil
		}
		if denseEnough(total, maxRid.Int64, offset+limit) {
			wq, _, err := compileQuery(f, true)
			if err != nil {
				return core.SearchPage{}, err
			}
			pageSQL = "SELECT ei.rid FROM events_index ei WHERE " + wq.sb.String() + " ORDER BY " + order + " LIMIT ? OFFSET ?"
		}
	}
	pageSt, err := s.srch.get(ctx, pageSQL)
	if err != nil {
		return core.SearchPage{}, err
	}
	page, err := s.searchPage(ctx, tx, pageSt, pageSQL, append(append(make([]any, 0, len(args)+2), args...), limit, offset))
	if err != nil {
		return core.SearchPage{}, fmt.Errorf("sqlite: search: %w", err)
	}
	n := int64(len(page.Results))
	switch {
	case total >= 0:
		page.Total = int(total)
	case (n > 0 && (limit < 0 || n < limit)) || (n == 0 && offset == 0):
		// The page reached the end of the results: no need to count. An
		// empty page past the start says nothing of where they end, even
		// without a limit: the offset may be past it.
		page.Total = int(offset + n)
	default:
		if total, err = s.searchCount(ctx, tx, countSQL, args); err != nil {
			return core.SearchPage{}, err
		}
		page.Total = int(total)
	}
	if err := tx.Commit(); err != nil {
		return core.SearchPage{}, fmt.Errorf("sqlite: search: %w", err)
	}
	return page, nil
}

// sqlMaxRid bounds the number of events_index rows (rids only grow).
const sqlMaxRid = "SELECT max(rid) FROM events_index"

// denseEnough reports whether walking events_index in order to the end of
// a page (about end*rows/total rows, matches being spread evenly) is
// cheaper than looking up and sorting all total matches. A walked row
// costs less than a looked-up one (an index entry and a set probe against
// a row lookup and a sort), hence the factor.
//
// A variable so that tests can force either way.
var denseEnough = func(total, rows, end int64) bool {
	return total > 0 && end*rows < total*total/4
}

func (s *Store) searchCount(ctx context.Context, tx *sql.Tx, countSQL string, args []any) (int64, error) {
	countSt, err := s.srch.get(ctx, countSQL)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := queryRowIn(ctx, tx, countSt, countSQL, args).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: search count: %w", err)
	}
	return n, nil
}

// searchPage reads the rids of one page, then their documents, in page
// order.
func (s *Store) searchPage(ctx context.Context, tx *sql.Tx, st *sql.Stmt, query string, args []any) (core.SearchPage, error) {
	page := core.SearchPage{Results: []json.RawMessage{}}
	rows, err := queryIn(ctx, tx, st, query, args)
	if err != nil {
		return page, err
	}
	var rids []int64
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			rows.Close()
			return page, err
		}
		rids = append(rids, rid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, err
	}
	if len(rids) == 0 {
		return page, nil
	}
	list, _ := json.Marshal(rids)
	rows, err = tx.StmtContext(ctx, s.rs.docs).QueryContext(ctx, string(list))
	if err != nil {
		return page, err
	}
	defer rows.Close()
	docs := make(map[int64]json.RawMessage, len(rids))
	for rows.Next() {
		var rid int64
		var doc []byte
		if err := rows.Scan(&rid, &doc); err != nil {
			return page, err
		}
		docs[rid] = doc
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	for _, rid := range rids {
		doc, ok := docs[rid]
		if !ok {
			return page, fmt.Errorf("index row %d has no document", rid)
		}
		page.Results = append(page.Results, doc)
	}
	return page, nil
}

// queryIn runs a query in tx, through the cached prepared statement when
// there is one.
func queryIn(ctx context.Context, tx *sql.Tx, st *sql.Stmt, query string, args []any) (*sql.Rows, error) {
	if st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

func queryRowIn(ctx context.Context, tx *sql.Tx, st *sql.Stmt, query string, args []any) *sql.Row {
	if st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}
