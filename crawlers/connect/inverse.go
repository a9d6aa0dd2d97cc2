package connect

import (
	"regexp"
	"strings"
)

// Running a chain backwards on topic names. A source that reports only the
// topics it wrote (a JDBC source without a table list) names its tables
// through the chain's routers: the table behind topic T is the start topic
// S with run(S) = T. That S is known only where the routers are invertible
// on T: where exactly one S can produce T. A RegexRouter ".*(book)" →
// "my-new-topic-$1" is not (every name ending in "book" gives the same
// topic); "(.*)" → "jdbc_$1" is.

// preimages returns every start topic the chain turns into topic, and false
// when they cannot be enumerated (a router that loses part of its input, a
// content-based or timestamp router, a transform we do not understand).
func (ch chain) preimages(topic string) ([]string, bool) {
	cur := []string{topic}
	for i := len(ch.transforms) - 1; i >= 0; i-- {
		t := ch.transforms[i]
		if t.keySide {
			continue
		}
		switch t.kind {
		case smtRegexRouter, smtByLogicalTableRouter:
			var next []string
			for _, out := range cur {
				in, ok := t.routerPreimages(out)
				if !ok {
					return nil, false
				}
				next = append(next, in...)
			}
			cur = dedupe(next)
		case smtTimestampRouter, smtContentRouter, smtEventRouter, smtUnknown:
			return nil, false
		}
	}
	// The forward run decides: predicates and filters are honoured there.
	var out []string
	for _, s := range cur {
		if r := ch.run(s, nil); r.route.exact() && r.route.topic == topic {
			out = appendUnique(out, s)
		}
	}
	return out, true
}

// routerPreimages returns the inputs a RegexRouter-like transform turns
// into out (whether or not its predicate holds), and false when they cannot
// be enumerated.
func (t *transform) routerPreimages(out string) ([]string, bool) {
	var in []string
	if m, ok := javaFullReplace(t.regex, t.repl, out); !ok || m == out || t.pred != nil {
		in = append(in, out) // passes unchanged
	}
	var produce strings.Builder
	for _, p := range t.repl {
		if p.ref {
			produce.WriteString(".*")
		} else {
			produce.WriteString(regexp.QuoteMeta(p.literal))
		}
	}
	if !regexp.MustCompile(`^(?:` + produce.String() + `)$`).MatchString(out) {
		return in, true
	}
	inverse, ok := t.invertTemplate(out)
	if !ok {
		return nil, false
	}
	return append(in, inverse...), true
}

// templatePart is one element of a regex made only of literals and
// capturing groups.
type templatePart struct {
	literal string
	group   int    // 1-based group number; 0 for a literal
	pattern string // the group's Java pattern
}

// routerTemplate reads a Java regex as a sequence of literal characters and
// top-level capturing groups ("(.*)", "(?<name>[^.]+)"), the only shape
// whose input a replacement can rebuild. Anything else at the top level
// (".*", a class, an alternation, a quantified group) gives false.
func routerTemplate(src string) ([]templatePart, bool) {
	var parts []templatePart
	var lit strings.Builder
	group := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\':
			if i+1 >= len(src) {
				return nil, false
			}
			n := src[i+1]
			if (n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z') || (n >= '0' && n <= '9') {
				return nil, false // \d, \w, \Q …
			}
			lit.WriteByte(n)
			i++
		case c == '(':
			depth, end := 0, -1
			for j := i; j < len(src) && end < 0; j++ {
				switch src[j] {
				case '\\':
					j++
				case '(':
					depth++
				case ')':
					depth--
					if depth == 0 {
						end = j
					}
				}
			}
			if end < 0 {
				return nil, false
			}
			body := src[i+1 : end]
			if strings.HasPrefix(body, "?") {
				if !strings.HasPrefix(body, "?<") || strings.HasPrefix(body, "?<=") || strings.HasPrefix(body, "?<!") {
					return nil, false // non-capturing, lookaround, flags
				}
				close := strings.IndexByte(body, '>')
				if close < 0 {
					return nil, false
				}
				body = body[close+1:]
			}
			if end+1 < len(src) && strings.IndexByte("*+?{", src[end+1]) >= 0 {
				return nil, false // a quantified group repeats
			}
			if lit.Len() > 0 {
				parts = append(parts, templatePart{literal: lit.String()})
				lit.Reset()
			}
			group++
			parts = append(parts, templatePart{group: group, pattern: body})
			// Nested groups would shift the numbering.
			if strings.Contains(strings.ReplaceAll(body, `\(`, ""), "(") {
				return nil, false
			}
			i = end
		case strings.IndexByte(".[]{}*+?|^$)", c) >= 0:
			return nil, false
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		parts = append(parts, templatePart{literal: lit.String()})
	}
	return parts, true
}

// invertTemplate rebuilds the input that produced out when the regex is a
// template whose every group the replacement references: out is matched
// against the replacement, each reference capturing its group's pattern,
// and the template filled with the captures.
func (t *transform) invertTemplate(out string) ([]string, bool) {
	tmpl, ok := routerTemplate(t.regexSrc)
	if !ok {
		return nil, false
	}
	patterns := map[int]string{}
	for _, p := range tmpl {
		if p.group > 0 {
			goPat, err := translateJava(p.pattern)
			if err != nil {
				return nil, false
			}
			patterns[p.group] = goPat
		}
	}
	var b strings.Builder
	refs := map[int]bool{}
	var order []int
	for _, p := range t.repl {
		if !p.ref {
			b.WriteString(regexp.QuoteMeta(p.literal))
			continue
		}
		g := p.group
		if p.name != "" {
			g = t.regex.SubexpIndex(p.name)
		}
		if g == 0 {
			return nil, false // $0 is the whole input: handled as a group of one
		}
		pat, ok := patterns[g]
		if !ok {
			return nil, false
		}
		b.WriteString("(" + pat + ")")
		refs[g] = true
		order = append(order, g)
	}
	if len(refs) != len(patterns) {
		return nil, false // a group the replacement drops is lost
	}
	re, err := regexp.Compile(`^(?:` + b.String() + `)$`)
	if err != nil {
		return nil, false
	}
	m := re.FindStringSubmatch(out)
	if m == nil {
		return nil, true
	}
	// Greedy and lazy matching split out alike only when the split is
	// unique; otherwise several inputs give out.
	if lazy := regexp.MustCompile(`(?U)` + re.String()).FindStringSubmatch(out); strings.Join(lazy, "\x00") != strings.Join(m, "\x00") {
		return nil, false
	}
	values := map[int]string{}
	for i, g := range order {
		if v, seen := values[g]; seen && v != m[i+1] {
			return nil, true
		}
		values[g] = m[i+1]
	}
	var in strings.Builder
	for _, p := range tmpl {
		if p.group == 0 {
			in.WriteString(p.literal)
		} else {
			in.WriteString(values[p.group])
		}
	}
	if got, ok := javaFullReplace(t.regex, t.repl, in.String()); !ok || got != out {
		return nil, true
	}
	return []string{in.String()}, true
}
