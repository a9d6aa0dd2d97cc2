package connect

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Kafka Connect and Debezium configs hold java.util.regex patterns. Go's RE2
// accepts most of them; compileJava translates the differences RE2 can
// express and rejects the ones it cannot (lookaround, backreferences), so
// that a config we cannot evaluate is reported instead of misread.

// compileJavaFull compiles a Java pattern for Matcher.matches() semantics:
// the whole input must match.
func compileJavaFull(pattern string, caseInsensitive bool) (*regexp.Regexp, error) {
	goPat, err := translateJava(pattern)
	if err != nil {
		return nil, err
	}
	flags := ""
	if caseInsensitive {
		flags = "(?i)"
	}
	re, err := regexp.Compile(flags + `^(?:` + goPat + `)$`)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	return re, nil
}

// translateJava rewrites a Java pattern into RE2 syntax.
func translateJava(p string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			n := p[i+1]
			switch {
			case n == 'Q':
				// \Q...\E quotes literally; RE2 supports it, copy through.
				end := strings.Index(p[i+2:], `\E`)
				if end < 0 {
					b.WriteString(regexp.QuoteMeta(p[i+2:]))
					return b.String(), nil
				}
				b.WriteString(regexp.QuoteMeta(p[i+2 : i+2+end]))
				i += 2 + end + 1
				continue
			case n >= '1' && n <= '9' && !inClass:
				return "", fmt.Errorf("regex %q: backreferences (\\%c) are not supported", p, n)
			case n == 'k' && !inClass:
				return "", fmt.Errorf("regex %q: named backreferences are not supported", p)
			case n == 'Z':
				b.WriteString(`(?:\n?\z)`)
			case n == 'h':
				b.WriteString(`[ \t\xA0]`)
			case n == 'R':
				b.WriteString(`(?:\r\n|[\n\v\f\r\x85])`)
			default:
				b.WriteByte(c)
				b.WriteByte(n)
			}
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is literal.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '(' && strings.HasPrefix(p[i:], "(?>"):
			b.WriteString("(?:") // atomic group: same matches for our uses
			i += 2
		case c == '(' && (strings.HasPrefix(p[i:], "(?=") || strings.HasPrefix(p[i:], "(?!") ||
			strings.HasPrefix(p[i:], "(?<=") || strings.HasPrefix(p[i:], "(?<!")):
			return "", fmt.Errorf("regex %q: lookaround is not supported", p)
		case (c == '+') && i > 0 && isQuantifierEnd(p, i):
			// possessive quantifier X*+ X++ X?+ X{n}+: drop the '+'.
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// isQuantifierEnd reports whether p[i] ('+') follows a quantifier, making it
// possessive.
func isQuantifierEnd(p string, i int) bool {
	prev := p[i-1]
	if i >= 2 && p[i-2] == '\\' {
		return false
	}
	return prev == '*' || prev == '+' || prev == '?' || prev == '}'
}

// javaReplacement is a parsed java.util.regex.Matcher replacement string:
// "$1", "${name}", "\$" escapes.
type javaReplacement []replacementPart

type replacementPart struct {
	literal string
	ref     bool   // a group reference, not a literal
	group   int    // numbered group ($0 is the whole match)
	name    string // named group, when set
}

// parseJavaReplacement parses repl against re's groups, resolving "$12" the
// way Java does (as many digits as still name an existing group).
func parseJavaReplacement(repl string, re *regexp.Regexp) (javaReplacement, error) {
	var parts javaReplacement
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replacementPart{literal: lit.String()})
			lit.Reset()
		}
	}
	groups := re.NumSubexp()
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\':
			if i+1 >= len(repl) {
				return nil, fmt.Errorf("replacement %q: character to be escaped is missing", repl)
			}
			lit.WriteByte(repl[i+1])
			i++
		case c == '$':
			if i+1 >= len(repl) {
				return nil, fmt.Errorf("replacement %q: illegal group reference: group index is missing", repl)
			}
			if repl[i+1] == '{' {
				end := strings.IndexByte(repl[i+2:], '}')
				if end < 0 {
					return nil, fmt.Errorf("replacement %q: named capturing group is missing trailing '}'", repl)
				}
				name := repl[i+2 : i+2+end]
				if re.SubexpIndex(name) < 0 {
					return nil, fmt.Errorf("replacement %q: no group with name {%s}", repl, name)
				}
				flush()
				parts = append(parts, replacementPart{ref: true, name: name})
				i += 2 + end
				continue
			}
			if repl[i+1] < '0' || repl[i+1] > '9' {
				return nil, fmt.Errorf("replacement %q: illegal group reference", repl)
			}
			j := i + 2
			num := int(repl[i+1] - '0')
			for j < len(repl) && repl[j] >= '0' && repl[j] <= '9' {
				next := num*10 + int(repl[j]-'0')
				if next > groups {
					break
				}
				num = next
				j++
			}
			if num > groups {
				return nil, fmt.Errorf("replacement %q: no group %d", repl, num)
			}
			flush()
			parts = append(parts, replacementPart{ref: true, group: num})
			i = j - 1
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return parts, nil
}

// expand renders r with the submatches of a match of re against s.
func (r javaReplacement) expand(re *regexp.Regexp, s string, m []int) string {
	var b strings.Builder
	for _, p := range r {
		if !p.ref {
			b.WriteString(p.literal)
			continue
		}
		g := p.group
		if p.name != "" {
			g = re.SubexpIndex(p.name)
		}
		if 2*g+1 < len(m) && m[2*g] >= 0 {
			b.WriteString(s[m[2*g]:m[2*g+1]])
		}
	}
	return b.String()
}

// pattern renders r as a regular expression matching every string r can
// produce: literals quoted, group references as ".+". The outbox EventRouter
// and TimestampRouter name topics after record content; this is how their
// topics are recognised among the topics Connect reports.
func (r javaReplacement) pattern() string {
	var b strings.Builder
	for _, p := range r {
		if !p.ref {
			b.WriteString(regexp.QuoteMeta(p.literal))
			continue
		}
		b.WriteString(".+")
	}
	return b.String()
}

// javaFullReplace applies Java's "if (m.matches()) topic = m.replaceFirst(r)"
// (RegexRouter, ByLogicalTableRouter): ok is false when re does not match
// the whole of s.
func javaFullReplace(re *regexp.Regexp, r javaReplacement, s string) (string, bool) {
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return s, false
	}
	return r.expand(re, s, m), true
}

// splitList splits a comma-separated config list, trimming blanks and
// dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// splitRegexList splits a Debezium list of regular expressions on commas not
// escaped with a backslash ("a\,b" is one pattern containing a comma).
func splitRegexList(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case s[i] == ',':
			if p := strings.TrimSpace(cur.String()); p != "" {
				out = append(out, p)
			}
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	if p := strings.TrimSpace(cur.String()); p != "" {
		out = append(out, p)
	}
	return out
}

// literalOf returns the string a pattern matches when it matches exactly one
// (treating an unescaped '.' as the literal dot it almost always means in
// table lists): "inventory.customers" and `inventory\.customers` give
// "inventory.customers"; "inventory.customers_\d+" gives false.
func literalOf(pattern string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\':
			if i+1 >= len(pattern) {
				return "", false
			}
			n := pattern[i+1]
			if (n >= 'a' && n <= 'z') || (n >= 'A' && n <= 'Z') || (n >= '0' && n <= '9') {
				return "", false // \d, \w, \s, \1 ...
			}
			b.WriteByte(n)
			i++
		case strings.IndexByte("[](){}*+?|^$", c) >= 0:
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), b.Len() > 0
}

// atoiDefault parses s as an int, returning def when s is empty or invalid.
func atoiDefault(s string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return n
	}
	return def
}
