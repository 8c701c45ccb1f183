package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crvshub/crvshub/core"
)

// OracleSeeds are the seeds RunOracle always runs; it adds one random
// seed per run (or that of CRVSHUB_ORACLE_SEED, to replay a failure).
var OracleSeeds = []uint64{1, 2, 3, 42}

// OracleOptions sizes RunOracle.
type OracleOptions struct {
	Rows    int // events per seed (default 300)
	Queries int // random searches per seed (default 400)
	// Seeds replaces OracleSeeds (the random seed is still added).
	Seeds []uint64
}

// RunOracle is the randomized differential test of Search: for each seed
// it loads random index rows into a fresh store and compares the page
// (ids and order) and total of random filters with Eval's. Value domains
// are small so that conditions match often, one name token is shared by
// most events (so that a store's dense-match plans run), and some value
// lists are longer than any inline limit.
func RunOracle(t *testing.T, open func(t *testing.T) core.Store, o OracleOptions) {
	if o.Rows <= 0 {
		o.Rows = 300
	}
	if o.Queries <= 0 {
		o.Queries = 400
	}
	seeds := append([]uint64(nil), OracleSeeds...)
	if o.Seeds != nil {
		seeds = append([]uint64(nil), o.Seeds...)
	}
	if s := os.Getenv("CRVSHUB_ORACLE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CRVSHUB_ORACLE_SEED: %v", err)
		}
		seeds = append(seeds, v)
	} else {
		seeds = append(seeds, rand.Uint64())
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			g := &oracleGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
			rows := g.rows(o.Rows)
			loadOracleRows(t, s, rows)
			// Re-index a fifth of the events with other values (some
			// deleted, some brought back): stale flags and field rows must
			// go.
			fresh := g.rows(o.Rows)
			write(t, s, func(tx core.Tx) error {
				for i := range rows {
					if !g.chance(0.2) {
						continue
					}
					r := fresh[i]
					r.EventID, r.TrackingID, r.Doc = rows[i].EventID, rows[i].TrackingID, rows[i].Doc
					r.CreatedAt, r.RegistrationNumber = rows[i].CreatedAt, rows[i].RegistrationNumber
					if r.RegistrationNumber == "" {
						r.RegisteredAt = nil
					}
					rows[i] = r
					if err := tx.PutIndex(&r); err != nil {
						return err
					}
				}
				return nil
			})
			fails := 0
			for i := range o.Queries {
				f := g.search()
				wantIDs, wantTotal, oerr := Eval(rows, f)
				p, err := s.Search(context.Background(), f)
				switch {
				case oerr != nil && err != nil:
					if core.KindOf(err) == core.KindInvalid {
						continue // both refuse an invalid filter
					}
					t.Errorf("query %d: %s\nSearch: %v, want an invalid-search error (replay: CRVSHUB_ORACLE_SEED=%d)", i, describe(f), err, seed)
				case oerr != nil:
					t.Errorf("query %d: %s\nSearch accepted a filter the oracle refuses: %v (replay: CRVSHUB_ORACLE_SEED=%d)", i, describe(f), oerr, seed)
				case err != nil:
					t.Errorf("query %d: %s\nSearch: %v (replay: CRVSHUB_ORACLE_SEED=%d)", i, describe(f), err, seed)
				default:
					got := ids(t, p)
					if len(got) == 0 {
						got = []string{}
					}
					if len(wantIDs) == 0 {
						wantIDs = []string{}
					}
					if !reflect.DeepEqual(got, wantIDs) || p.Total != wantTotal {
						t.Errorf("query %d: %s\n got %v total %d\nwant %v total %d (replay: CRVSHUB_ORACLE_SEED=%d)",
							i, describe(f), got, p.Total, wantIDs, wantTotal, seed)
					} else {
						continue
					}
				}
				if fails++; fails >= 5 {
					t.Fatalf("stopping after %d mismatches", fails)
				}
			}
		})
	}
}

func describe(f core.SearchFilter) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func loadOracleRows(t *testing.T, s core.Store, rows []core.IndexRow) {
	t.Helper()
	write(t, s, func(tx core.Tx) error {
		for i := range rows {
			r := rows[i] // PutIndex may keep the row: give it a copy
			ev := &core.EventDocument{ID: r.EventID, Type: r.Type, TrackingID: r.TrackingID,
				CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
			if err := tx.InsertEvent(ev); err != nil {
				return err
			}
			if err := tx.PutIndex(&r); err != nil {
				return err
			}
		}
		return nil
	})
}

// oracleGen draws rows and filters from small value domains.
type oracleGen struct {
	r *rand.Rand
	// seen values, for conditions that hit
	times []time.Time
	// fieldsOnly makes filters of field conditions only (a store may
	// answer those from its field rows alone).
	fieldsOnly bool
}

func (g *oracleGen) pick(vs ...string) string { return vs[g.r.IntN(len(vs))] }
func (g *oracleGen) chance(p float64) bool    { return g.r.Float64() < p }

var (
	oTypes    = []string{"birth", "death", "marriage"}
	oStatuses = []string{"CREATED", "NOTIFIED", "DECLARED", "VALIDATED", "REGISTERED", "ARCHIVED"}
	oLocs     = []string{"loc-a", "loc-b", "loc-c", "loc-d", "loc-e", "loc-ab"}
	oUsers    = []string{"user-1", "user-2", "user-3", "user-10", "sys-1"}
	oFlags    = []string{"printed", "validated", "incomplete", "rejected", "pending-certification"}
	oFacs     = []string{"fac-1", "fac-2", "fac-3", "loc-a"}
	oTokens   = []string{"anna", "ann", "annabel", "maria", "jones", "o'brien", "jönsson", "%x_y", "åsa", "zed"}
	oDates    = []string{"2023-12-30", "2023-12-31", "2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05", "2024-02-29"}
	oWeights  = []float64{2.5, 3, 3.2, 4, -1, 0}
	oZones    = []*time.Location{time.UTC, time.FixedZone("+03", 3*3600), time.FixedZone("-0530", -(5*3600 + 1800))}
	oEpoch    = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (g *oracleGen) instant() time.Time {
	t := oEpoch.Add(time.Duration(g.r.IntN(6)-1) * 24 * time.Hour).
		Add(time.Duration(g.pick("0", "1", "12", "23")[0]-'0') * time.Hour)
	switch g.r.IntN(4) {
	case 0:
		t = t.Add(time.Nanosecond)
	case 1:
		t = t.Add(500 * time.Millisecond)
	case 2:
		t = t.Add(23*time.Hour + 59*time.Minute + 59*time.Second + 999999999) // last instant of a day
	}
	return t
}

func (g *oracleGen) rows(n int) []core.IndexRow {
	rows := make([]core.IndexRow, n)
	perm := g.r.Perm(n) // event ids not in insertion (rid) order
	for i := range rows {
		id := fmt.Sprintf("ev-%04d", perm[i])
		created := g.instant()
		updated := created
		if g.chance(0.6) {
			updated = g.instant()
			if updated.Before(created) {
				updated = created
			}
		}
		g.times = append(g.times, created, updated)
		r := core.IndexRow{
			EventID: id, Type: g.pick(oTypes...), Status: g.pick(oStatuses...),
			TrackingID: fmt.Sprintf("T%c%d%04d", 'A'+rune(g.r.IntN(3)), g.r.IntN(3), i),
			CreatedAt:  created.In(oZones[g.r.IntN(len(oZones))]), UpdatedAt: updated,
			CreatedAtLocation: g.pick(oLocs...), UpdatedAtLocation: g.pick(oLocs...),
			CreatedBy: g.pick(oUsers...), UpdatedBy: g.pick(oUsers...), CreatedByUserType: g.pick("user", "system"),
			PlaceOfEvent: g.pick(oFacs...),
			Deleted:      g.chance(0.1),
		}
		if g.chance(0.8) {
			r.DateOfEvent = g.pick(oDates...)
		}
		if g.chance(0.6) {
			r.DeclaredAtLocation = g.pick(oLocs...)
			r.DeclaredBy = g.pick(oUsers...)
		}
		if g.chance(0.5) {
			r.AssignedTo = g.pick(oUsers...)
		}
		if g.chance(0.4) {
			r.RegistrationNumber = fmt.Sprintf("R%c%04d", 'A'+rune(g.r.IntN(2)), i)
			ra := g.instant()
			r.RegisteredAt = &ra
			g.times = append(g.times, ra)
			r.RegisteredAtLocation = g.pick(oLocs...)
			r.RegisteredBy = g.pick(oUsers...)
		}
		for _, f := range oFlags {
			if g.chance(0.35) {
				r.Flags = append(r.Flags, f)
			}
		}
		if g.chance(0.85) {
			// "smith" is in most names: the dense case.
			words := []string{g.pick(oTokens...)}
			if g.chance(0.7) {
				words = append(words, "smith")
			} else {
				words = append(words, g.pick(oTokens...))
			}
			r.Fields = append(r.Fields, name("child.name", strings.Join(words, " "))...)
			r.Fields = append(r.Fields, num("child.weight", oWeights[g.r.IntN(len(oWeights))]))
			if g.chance(0.3) {
				r.Fields = append(r.Fields, num("child.weight", oWeights[g.r.IntN(len(oWeights))]))
			}
			r.Fields = append(r.Fields, date("child.dob", g.pick(oDates...)))
		}
		if g.chance(0.2) {
			r.Fields = append(r.Fields, name("deceased.name", g.pick(oTokens...)+" smith")...)
		}
		r.Doc, _ = json.Marshal(map[string]string{"id": id})
		rows[i] = r
	}
	return rows
}

var oracleSortColumns = []core.Column{core.ColCreatedAt, core.ColUpdatedAt, core.ColTrackingID, core.ColDateOfEvent,
	core.ColRegisteredAt, core.ColStatus, core.ColType, core.ColRegistrationNumber}

func (g *oracleGen) search() core.SearchFilter {
	g.fieldsOnly = g.chance(0.3)
	f := core.SearchFilter{Where: g.filter(0)}
	if g.chance(0.4) {
		f.Where = core.Filter{Op: "and", Children: []core.Filter{f.Where, g.access()}}
	}
	for range g.r.IntN(3) {
		f.Sort = append(f.Sort, core.SortKey{Column: oracleSortColumns[g.r.IntN(len(oracleSortColumns))], Desc: g.chance(0.5)})
	}
	if g.chance(0.005) {
		f.Sort = append(f.Sort, core.SortKey{Column: core.ColFlag})
	}
	f.Limit = []int{0, 1, 2, 3, 5, 10, 10, 20, 50}[g.r.IntN(9)]
	f.Offset = []int{0, 0, 0, 1, 2, 5, 17, 400, -1}[g.r.IntN(9)]
	return f
}

// access is a filter of the shape core adds for a caller whose
// record.search scopes are limited (Service.Search): an "or" of one
// "and" per scope, of event types, jurisdictions and the caller as
// declarer or registrar.
func (g *oracleGen) access() core.Filter {
	in := func(col core.Column, vals ...string) core.Filter {
		return core.Filter{Cond: &core.Cond{Column: col, Op: core.OpIn, Values: vals}}
	}
	alts := core.Filter{Op: "or"}
	for range 1 + g.r.IntN(2) {
		alt := core.Filter{Op: "and", Children: []core.Filter{in(core.ColType, g.pick(oTypes...))}}
		if g.chance(0.3) {
			alt.Children[0].Cond.Values = append(alt.Children[0].Cond.Values, g.pick(oTypes...))
		}
		switch g.r.IntN(5) {
		case 0:
			alt.Children = append(alt.Children, in(core.ColPlaceOfEvent, g.pick(oFacs...), g.pick(oLocs...)))
		case 1:
			alt.Children = append(alt.Children, in(core.ColDeclaredAtLocation, g.pick(oLocs...)))
		case 2:
			alt.Children = append(alt.Children, in(core.ColRegisteredBy, g.pick(oUsers...)))
		}
		alts.Children = append(alts.Children, alt)
	}
	return alts
}

func (g *oracleGen) filter(depth int) core.Filter {
	if depth < 3 && g.chance(0.45-0.1*float64(depth)) {
		op := g.pick("and", "or", "and", "or", "AND", "Or", "")
		if g.chance(0.005) {
			op = "xor"
		}
		n := g.r.IntN(4)
		if g.chance(0.9) && n == 0 {
			n = 1 + g.r.IntN(3)
		}
		f := core.Filter{Op: op}
		for range n {
			f.Children = append(f.Children, g.filter(depth+1))
		}
		return f
	}
	if depth == 0 && g.chance(0.4) {
		// the dense case: a common name token, often alone
		return core.Filter{Cond: &core.Cond{Column: core.ColField, FieldID: "child.name", Kind: core.KindToken,
			Op: core.Op(g.pick(string(core.OpIn), string(core.OpPrefix), string(core.OpAllOf))), Values: []string{g.pick("smith", "sm", "smith", "ann")}}}
	}
	return core.Filter{Cond: g.cond()}
}

// values draws 0-3 values from dom, now and then a list longer than
// any inline limit (a location subtree).
func (g *oracleGen) values(dom []string) []string {
	if g.chance(0.08) {
		out := make([]string, 0, 60)
		for i := range 40 + g.r.IntN(20) {
			out = append(out, fmt.Sprintf("x-%d", i))
		}
		for range 1 + g.r.IntN(3) {
			out = append(out, g.pick(dom...))
		}
		g.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	n := g.r.IntN(4)
	if n == 0 && g.chance(0.7) {
		n = 1
	}
	out := make([]string, n)
	for i := range out {
		out[i] = g.pick(dom...)
	}
	return out
}

func (g *oracleGen) prefixes(dom []string) []string {
	vs := g.values(dom)
	for i, v := range vs {
		if v != "" {
			vs[i] = v[:1+g.r.IntN(len(v))]
		}
	}
	return vs
}

func (g *oracleGen) timeValue() string {
	t := g.times[g.r.IntN(len(g.times))]
	if g.chance(0.2) {
		t = g.instant()
	}
	return t.In(oZones[g.r.IntN(len(oZones))]).Format(time.RFC3339Nano)
}

func (g *oracleGen) timeBound() string {
	switch g.r.IntN(3) {
	case 0:
		return ""
	case 1:
		return g.pick(oDates...)
	}
	return g.timeValue()
}

var oracleOps = []core.Op{core.OpIn, core.OpNotIn, core.OpAllOf, core.OpRange, core.OpPrefix}

// invalidConds are conditions every store must refuse.
var invalidConds = []core.Cond{
	{Column: "nope", Op: core.OpIn, Values: []string{"x"}},
	{Column: core.ColStatus, Op: "like", Values: []string{"x"}},
	{Column: core.ColFlag, Op: core.OpRange, Lo: "a"},
	{Column: core.ColField, Kind: core.KindToken, Op: core.OpIn, Values: []string{"smith"}},
	{Column: core.ColField, FieldID: "child.name", Kind: "soundex", Op: core.OpIn, Values: []string{"smith"}},
	{Column: core.ColField, FieldID: "child.weight", Kind: core.KindNum, Op: core.OpAllOf, Nums: []float64{3}},
	{Column: core.ColField, FieldID: "child.weight", Kind: core.KindNum, Op: core.OpPrefix, Values: []string{"3"}},
	{Column: core.ColField, FieldID: "child.name", Kind: core.KindToken, Op: "near", Values: []string{"smith"}},
	{Column: core.ColCreatedAt, Op: core.OpRange, Lo: "yesterday"},
	{Column: core.ColUpdatedAt, Op: core.OpIn, Values: []string{"2024-13-01"}},
	{Column: core.ColField, FieldID: "child.weight", Kind: core.KindNum, Op: core.OpIn, Nums: []float64{3, math.Inf(1)}},
	{Column: core.ColField, FieldID: "child.weight", Kind: core.KindNum, Op: core.OpNotIn, Nums: append(make([]float64, 40), math.NaN())},
}

func (g *oracleGen) cond() *core.Cond {
	op := oracleOps[g.r.IntN(len(oracleOps))]
	if g.fieldsOnly {
		return g.fieldCond(op)
	}
	if g.chance(0.01) {
		c := invalidConds[g.r.IntN(len(invalidConds))]
		return &c
	}
	switch g.r.IntN(24) {
	case 0, 1:
		c := &core.Cond{Column: core.ColFlag, Op: op}
		if op == core.OpRange {
			c.Op = core.OpIn
		}
		if op == core.OpPrefix {
			c.Values = g.prefixes(oFlags)
		} else {
			c.Values = g.values(oFlags)
		}
		return c
	case 2, 3, 4, 5:
		return g.fieldCond(op)
	case 6, 7:
		col := []core.Column{core.ColCreatedAt, core.ColUpdatedAt, core.ColRegisteredAt}[g.r.IntN(3)]
		c := &core.Cond{Column: col, Op: op}
		switch op {
		case core.OpRange:
			c.Lo, c.Hi = g.timeBound(), g.timeBound()
		case core.OpPrefix:
			c.Op = core.OpRange
			c.Lo = g.timeBound()
		default:
			for range g.r.IntN(3) + 1 {
				if g.chance(0.2) {
					c.Values = append(c.Values, g.pick(oDates...)) // midnight UTC
				} else {
					c.Values = append(c.Values, g.timeValue())
				}
			}
		}
		return c
	}
	type textCol struct {
		col core.Column
		dom []string
	}
	var trk, regs []string
	for _, a := range []string{"TA", "TB", "TC"} {
		for _, b := range []string{"0", "1", "2"} {
			trk = append(trk, a+b)
		}
	}
	for i := range 30 {
		regs = append(regs, fmt.Sprintf("R%c%04d", 'A'+rune(i%2), i))
	}
	ids := []string{}
	for i := range 30 {
		ids = append(ids, fmt.Sprintf("ev-%04d", i))
	}
	locs := append([]string{""}, oLocs...)
	users := append([]string{""}, oUsers...)
	cols := []textCol{
		{core.ColID, ids}, {core.ColTrackingID, trk}, {core.ColType, oTypes}, {core.ColStatus, oStatuses},
		{core.ColRegistrationNumber, append([]string{""}, regs...)},
		{core.ColCreatedAtLocation, oLocs}, {core.ColUpdatedAtLocation, oLocs},
		{core.ColDeclaredAtLocation, locs}, {core.ColRegisteredAtLocation, locs},
		{core.ColAssignedTo, users}, {core.ColCreatedBy, oUsers}, {core.ColUpdatedBy, oUsers},
		{core.ColCreatedByUserType, []string{"user", "system"}},
		{core.ColDateOfEvent, append([]string{""}, oDates...)},
		{core.ColPlaceOfEvent, oFacs}, {core.ColDeclaredBy, users}, {core.ColRegisteredBy, users},
	}
	tc := cols[g.r.IntN(len(cols))]
	c := &core.Cond{Column: tc.col, Op: op}
	switch op {
	case core.OpRange:
		if g.chance(0.7) {
			c.Lo = g.pick(tc.dom...)
		}
		if g.chance(0.7) {
			c.Hi = g.pick(tc.dom...)
		}
	case core.OpPrefix:
		c.Values = g.prefixes(tc.dom)
	default:
		c.Values = g.values(tc.dom)
	}
	return c
}

func (g *oracleGen) fieldCond(op core.Op) *core.Cond {
	switch g.r.IntN(4) {
	case 0: // number
		c := &core.Cond{Column: core.ColField, FieldID: "child.weight", Kind: core.KindNum, Op: op}
		switch op {
		case core.OpRange:
			if g.chance(0.7) {
				v := oWeights[g.r.IntN(len(oWeights))]
				c.NumLo = &v
			}
			if g.chance(0.7) {
				v := oWeights[g.r.IntN(len(oWeights))] + float64(g.r.IntN(2))/10
				c.NumHi = &v
			}
		default:
			c.Op = []core.Op{core.OpIn, core.OpNotIn}[g.r.IntN(2)]
			for range g.r.IntN(3) {
				c.Nums = append(c.Nums, oWeights[g.r.IntN(len(oWeights))])
			}
			if g.chance(0.05) {
				for i := range 40 {
					c.Nums = append(c.Nums, 100+float64(i))
				}
			}
			if g.chance(0.05) {
				c.Values = []string{"3"} // not a number field's: ignored
			}
		}
		return c
	case 1: // date
		c := &core.Cond{Column: core.ColField, FieldID: "child.dob", Kind: core.KindDate, Op: op}
		switch op {
		case core.OpRange:
			if g.chance(0.7) {
				c.Lo = g.pick(oDates...)
			}
			if g.chance(0.7) {
				c.Hi = g.pick(oDates...)
			}
		case core.OpPrefix:
			c.Values = g.prefixes(oDates)
		default:
			c.Values = g.values(oDates)
		}
		return c
	}
	fid := g.pick("child.name", "child.name", "deceased.name")
	kind := core.KindToken
	dom := append([]string{"smith"}, oTokens...)
	if g.chance(0.3) {
		kind = core.ValueKind(g.pick(string(core.KindText), ""))
		dom = []string{"anna smith", "maria smith", "jones zed", "ann annabel"}
	}
	c := &core.Cond{Column: core.ColField, FieldID: fid, Kind: kind, Op: op}
	switch op {
	case core.OpRange:
		if g.chance(0.7) {
			c.Lo = g.pick(dom...)
		}
		if g.chance(0.7) {
			c.Hi = g.pick(dom...)
		}
	case core.OpPrefix:
		c.Values = g.prefixes(dom)
	default:
		c.Values = g.values(dom)
		if g.chance(0.05) {
			c.Nums = []float64{3} // not a text field's: ignored
		}
	}
	return c
}
