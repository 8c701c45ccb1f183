package mappings

import (
	"fmt"
	"slices"
	"strings"

	"github.com/crvshub/crvshub/core"
)

// findLocation looks a location up in the country config by UUID, external
// id or name (case-insensitive).
func (m *Mapper) findLocation(key string) *core.Location {
	key = strings.TrimSpace(key)
	if key == "" {
		return nil
	}
	if l := m.cc.Location(strings.ToLower(key)); l != nil {
		return l
	}
	if l := m.cc.LocationByExternalID(key); l != nil {
		return l
	}
	return m.byName[strings.ToLower(key)]
}

// locationFor resolves a node (a Reference, a Location resource, an
// Identifier or a plain string) to a configured location. It also returns
// the text it looked for, for messages.
func (m *Mapper) locationFor(b *bundle, v any) (*core.Location, string) {
	switch x := v.(type) {
	case string:
		return m.findLocation(x), x
	case obj:
		if rt := str(x["resourceType"]); rt == "Location" || rt == "Organization" {
			var tried []string
			if ids, ok := x["identifier"].([]any); ok {
				for _, id := range ids {
					io, _ := id.(obj)
					if v := str(io["value"]); v != "" {
						tried = append(tried, v)
						if l := m.findLocation(v); l != nil {
							return l, v
						}
					}
				}
			}
			if id := str(x["id"]); id != "" {
				tried = append(tried, id)
				if l := m.findLocation(id); l != nil {
					return l, id
				}
			}
			if n := str(x["name"]); n != "" {
				tried = append(tried, n)
				if l := m.findLocation(n); l != nil {
					return l, n
				}
			}
			return nil, strings.Join(tried, ", ")
		}
		if ref := str(x["reference"]); ref != "" {
			if b != nil {
				if r := b.resolve(ref); r != nil {
					return m.locationFor(b, r.Data)
				}
			}
			id := ref
			if k := refKey(ref); k != "" {
				id = k[strings.IndexByte(k, '/')+1:]
			}
			id = strings.TrimPrefix(id, "urn:uuid:")
			return m.findLocation(id), ref
		}
		if v := str(x["value"]); v != "" { // an Identifier
			return m.findLocation(v), v
		}
		if d := str(x["display"]); d != "" {
			return m.findLocation(d), d
		}
	}
	return nil, ""
}

func tLocation(c *tctx, nodes []node) (any, []Issue) {
	types := argStrings(c.args, "types")
	if len(types) == 0 && c.field != nil {
		types = c.field.LocationTypes
	}
	var issues []Issue
	for _, n := range nodes {
		l, key := c.m.locationFor(c.b, n.v)
		if l == nil {
			if key == "" {
				continue
			}
			issues = c.warn("not-found", &n, "unknown location %q (not in the country's location list)", key)
			continue
		}
		if !c.now.IsZero() && !l.Active(c.now) {
			issues = c.warn("value", &n, "location %q is no longer in use", l.Name)
			continue
		}
		if len(types) > 0 && !slices.Contains(types, l.LocationType) {
			issues = c.warn("value", &n, "location %q is a %s, not a %s", l.Name, l.LocationType, strings.Join(types, " or "))
			continue
		}
		return l.ID, nil
	}
	return nil, issues
}

func rLocation(c *tctx, v any) any {
	l := c.m.cc.Location(str(v))
	if l == nil {
		return nil
	}
	o := obj{"resourceType": "Location", "id": l.ID, "name": l.Name, "status": "active", "mode": "instance",
		"type": []any{obj{"coding": []any{obj{"system": "http://opencrvs.org/specs/location-type", "code": l.LocationType}}}}}
	if l.ExternalID != "" {
		o["identifier"] = []any{obj{"system": "http://opencrvs.org/specs/id/external-id", "value": l.ExternalID}}
	}
	if l.ParentID != "" {
		o["partOf"] = obj{"reference": "Location/" + l.ParentID}
	}
	return o
}

// ---- addresses

// adminArea resolves a district/state/city text (UUID, external id or name)
// to an admin area of the config.
func (m *Mapper) adminArea(s string) *core.Location {
	l := m.findLocation(s)
	if l == nil || l.LocationType != core.LocationAdminStructure {
		return nil
	}
	return l
}

func (m *Mapper) isLeafArea(id string) bool {
	for _, c := range m.cc.Subtree(id)[1:] {
		if l := m.cc.Location(c); l != nil && l.LocationType == core.LocationAdminStructure {
			return false
		}
	}
	return true
}

var addressUseRank = map[string]int{"home": 0, "": 1, "work": 2, "temp": 3, "billing": 4, "old": 5}

// tAddress maps a FHIR Address to the OpenCRVS v2 address shape:
// {country, addressType, administrativeArea?, streetLevelDetails?}. A
// district or state that names a known admin area makes it DOMESTIC.
func tAddress(c *tctx, nodes []node) (any, []Issue) {
	var best *node
	rank := 99
	for i := range nodes {
		o, ok := nodes[i].v.(obj)
		if !ok {
			continue
		}
		r, ok := addressUseRank[strings.ToLower(str(o["use"]))]
		if !ok {
			r = 1
		}
		if r < rank {
			best, rank = &nodes[i], r
		}
	}
	if best == nil {
		return nil, nil
	}
	o := best.v.(obj)
	m := c.m
	var area *core.Location
	for _, k := range []string{"district", "state", "city"} {
		if a := m.adminArea(str(o[k])); a != nil {
			if area == nil || m.cc.Within(a.ID, area.ID) {
				area = a
			}
		}
	}
	country := ""
	if s := str(o["country"]); s != "" {
		cc, ok := countryCode(s)
		if !ok {
			return nil, c.warn("code-unknown", best, "unknown country %q in the address", s)
		}
		country = cc
	}
	home := m.cc.Settings.CountryCode
	if country == "" {
		if area == nil {
			if len(strList(o["line"])) == 0 && str(o["city"]) == "" {
				return nil, nil
			}
			return nil, c.warn("incomplete", best, "address without a country or a known administrative area")
		}
		country = home
	}
	out := map[string]any{"country": country}
	details := map[string]any{}
	put := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			details[k] = v
		}
	}
	lines := []string{}
	if arr, ok := o["line"].([]any); ok {
		for _, l := range arr {
			lines = append(lines, str(l))
		}
	}
	for i, l := range lines {
		if i < 3 {
			put([]string{"addressLine1", "addressLine2", "addressLine3"}[i], l)
		}
	}
	put("cityOrTown", str(o["city"]))
	put("postcodeOrZip", str(o["postalCode"]))
	var issues []Issue
	if country == home && home != "" {
		out["addressType"] = "DOMESTIC"
		if area == nil {
			var names []string
			for _, k := range []string{"district", "state"} {
				if v := strings.TrimSpace(str(o[k])); v != "" {
					names = append(names, v)
				}
			}
			if len(names) > 0 {
				issues = []Issue{warn("not-found", best.path, fmt.Sprintf("%s: administrative area %s is not in the country's location list; kept as text", c.fieldID, strings.Join(names, " / ")))}
			}
		}
		switch {
		case area != nil && m.isLeafArea(area.ID):
			out["administrativeArea"] = area.ID
		case area != nil:
			// A known area above the leaves (a province without its
			// district): the form's administrativeArea must be a leaf, so
			// the area is kept by name as text and the sender told, rather
			// than dropped without a word.
			put("state", area.Name)
			if d := str(o["district"]); d != "" && m.adminArea(d) == nil {
				put("district2", d)
			}
			issues = append(issues, warn("incomplete", best.path, fmt.Sprintf("%s: no known district below %s (the address's administrative area must be a leaf of the location tree); %s kept as streetLevelDetails.state, administrative area left out", c.fieldID, area.Name, area.Name)))
		case str(o["district"]) != "" || str(o["state"]) != "":
			put("district2", str(o["district"]))
			put("state", str(o["state"]))
		}
	} else {
		out["addressType"] = "INTERNATIONAL"
		put("state", str(o["state"]))
		put("district2", str(o["district"]))
	}
	if len(details) > 0 {
		out["streetLevelDetails"] = details
	}
	return out, issues
}

func rAddress(c *tctx, v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	a := obj{"use": "home", "type": "physical", "country": str(m["country"])}
	d, _ := m["streetLevelDetails"].(map[string]any)
	var lines []any
	for _, k := range []string{"addressLine1", "addressLine2", "addressLine3"} {
		if s := str(d[k]); s != "" {
			lines = append(lines, s)
		}
	}
	if len(lines) > 0 {
		a["line"] = lines
	}
	for k, fk := range map[string]string{"cityOrTown": "city", "postcodeOrZip": "postalCode", "state": "state", "district2": "district"} {
		if s := str(d[k]); s != "" {
			a[fk] = s
		}
	}
	if id := str(m["administrativeArea"]); id != "" {
		a["district"] = id
		if l := c.m.cc.Location(id); l != nil && l.ParentID != "" {
			a["state"] = l.ParentID
		}
	}
	return []any{a}
}
