package mappings

import (
	"fmt"
	"strconv"
	"strings"
)

// The selector path language, a small FHIRPath subset:
//
//	role.name[0].given          keys, with an optional [index]; arrays flatten
//	role.extension(URL).valueX  extension elements whose url is URL or ends in /URL
//	role.identifier.where(type.coding.code=NATIONAL_ID).value
//	role.where(gender=female)   keep elements whose sub-path has that value (or exists: where(x))
//	role.location.location.resolve()   follow a Reference to the resource
//
// The first name is a role of the spec (or "bundle").

type segKind int

const (
	segKey segKind = iota
	segExt
	segWhere
	segResolve
)

type seg struct {
	kind  segKind
	key   string // key name, or extension url
	index int    // -1 = all
	sub   []seg  // where: sub-path
	value string // where: wanted value ("" with exists)
	exist bool
}

// path is a compiled selector: a role and the segments below it.
type path struct {
	src  string
	role string
	segs []seg
}

func (p path) String() string { return p.src }

func splitTop(s string, sep byte) ([]string, error) {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced ) in %q", s)
			}
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if depth != 0 || quote != 0 {
		return nil, fmt.Errorf("unbalanced ( or quote in %q", s)
	}
	return append(out, s[start:]), nil
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func compileSegs(s string) ([]seg, error) {
	if s == "" {
		return nil, nil
	}
	parts, err := splitTop(s, '.')
	if err != nil {
		return nil, err
	}
	var out []seg
	for _, p := range parts {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
			return nil, fmt.Errorf("empty step in %q", s)
		case p == "resolve()":
			out = append(out, seg{kind: segResolve})
		case strings.HasPrefix(p, "extension(") && strings.HasSuffix(p, ")"):
			u := unquote(p[len("extension(") : len(p)-1])
			if u == "" {
				return nil, fmt.Errorf("extension() needs a url in %q", s)
			}
			out = append(out, seg{kind: segExt, key: u, index: -1})
		case strings.HasPrefix(p, "where(") && strings.HasSuffix(p, ")"):
			cond := p[len("where(") : len(p)-1]
			w := seg{kind: segWhere}
			lhs := cond
			if i := strings.IndexByte(cond, '='); i >= 0 {
				lhs, w.value = cond[:i], unquote(cond[i+1:])
			} else {
				w.exist = true
			}
			sub, err := compileSegs(strings.TrimSpace(lhs))
			if err != nil {
				return nil, err
			}
			if len(sub) == 0 {
				return nil, fmt.Errorf("where() needs a path in %q", s)
			}
			w.sub = sub
			out = append(out, w)
		default:
			k := seg{kind: segKey, key: p, index: -1}
			if i := strings.IndexByte(p, '['); i >= 0 {
				if !strings.HasSuffix(p, "]") {
					return nil, fmt.Errorf("bad index in %q", p)
				}
				n, err := strconv.Atoi(p[i+1 : len(p)-1])
				if err != nil || n < 0 {
					return nil, fmt.Errorf("bad index in %q", p)
				}
				k.key, k.index = p[:i], n
			}
			for _, c := range k.key {
				if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
					return nil, fmt.Errorf("bad name %q in %q", k.key, s)
				}
			}
			out = append(out, k)
		}
	}
	return out, nil
}

func compilePath(s string) (path, error) {
	s = strings.TrimSpace(s)
	role, rest := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		role, rest = s[:i], s[i+1:]
	}
	if role == "" {
		return path{}, fmt.Errorf("empty path")
	}
	segs, err := compileSegs(rest)
	if err != nil {
		return path{}, err
	}
	return path{src: s, role: role, segs: segs}, nil
}

// node is one value found by a path, with its FHIRPath-like location.
type node struct {
	v    any
	path string
}

// eval applies segs to the nodes. Arrays are flattened as FHIRPath does.
func eval(b *bundle, in []node, segs []seg) []node {
	cur := in
	for _, s := range segs {
		if len(cur) == 0 {
			return nil
		}
		var next []node
		for _, n := range cur {
			switch s.kind {
			case segKey:
				o, ok := n.v.(obj)
				if !ok {
					continue
				}
				v, ok := o[s.key]
				if !ok || v == nil {
					continue
				}
				p := n.path + "." + s.key
				if arr, ok := v.([]any); ok {
					for i, e := range arr {
						if e == nil || (s.index >= 0 && i != s.index) {
							continue
						}
						next = append(next, node{e, fmt.Sprintf("%s[%d]", p, i)})
					}
				} else if s.index <= 0 { // a single value where R4 has a list (STU3 shapes) counts as [0]
					next = append(next, node{v, p})
				}
			case segExt:
				o, ok := n.v.(obj)
				if !ok {
					continue
				}
				arr, _ := o["extension"].([]any)
				for i, e := range arr {
					eo, ok := e.(obj)
					if !ok {
						continue
					}
					if u, _ := eo["url"].(string); urlMatches(u, s.key) {
						next = append(next, node{eo, fmt.Sprintf("%s.extension[%d]", n.path, i)})
					}
				}
			case segWhere:
				for _, x := range eval(b, []node{n}, s.sub) {
					if s.exist || strings.EqualFold(str(x.v), s.value) {
						next = append(next, n)
						break
					}
				}
			case segResolve:
				o, ok := n.v.(obj)
				if !ok || b == nil {
					continue
				}
				if r := b.resolve(str(o["reference"])); r != nil {
					next = append(next, node{r.Data, r.Path})
				}
			}
		}
		cur = next
	}
	return cur
}

// urlMatches reports whether an extension url is want or ends in /want.
func urlMatches(u, want string) bool {
	return u == want || (strings.HasSuffix(u, want) && len(u) > len(want) && u[len(u)-len(want)-1] == '/')
}
