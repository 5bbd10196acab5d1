package httpadapter

import (
	"net/http"
	"net/url"
	"strings"
)

// RouteTemplate returns req's path with every segment that may vary, or
// may be a secret, replaced by "{}": "/v1/users/123/posts" →
// "/v1/users/{}/posts", "/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX" →
// "/services/{}/{}/{}". The result is a low-cardinality name for the
// route, fit for a metric attribute, a span name or a log line. The query
// string is never part of it; empty segments and a trailing slash are
// dropped; an empty path is "/".
//
// A segment is kept only when it is a version or a name; anything else
// becomes "{}". A version is "v" or "V", a digit, then digits, lower-case
// letters or dots, 10 bytes at most: v1, v2beta, v1.2. A name is at most
// 64 bytes of ASCII letters and the separators . _ - :, split by the
// separators into parts (chat.postMessage: chat, postMessage), each of
// which is a version or letters. The letters of a part split into words
// where the case changes (postMessage: post, Message;
// getUploadURLExternal: get, Upload, URL, External), and:
//
//   - a part has at most 4 words, and when it has more than one, each has
//     at least 2 letters;
//   - a word in capitals is an acronym, and a segment has at most 4
//     letters of acronyms (URL, API; not XXXXXXXXXXXXXXXXXXXXXXXX, not
//     TABCDEFGH);
//   - any other word has at most 16 letters and, when it has more than 4,
//     reads as a word: it has a vowel (a, e, i, o, u or y) for every 8
//     letters, no run of more than 4 consonants, at most 2 of the letters
//     j, k, q, v, x and z, and no pair of letters that English words
//     seldom hold (q followed by anything but u or l; j followed by a
//     consonant; qz, vb, xr, zt and the like: the list is rareAfter, in
//     the source).
//
// So IDs, dates and hashes (any digit outside a version), UUIDs, tokens of
// mixed case, long tokens of one case and short random ones such as
// qzwxrtp become "{}", while resource and method names (users, me,
// databases, chat.postMessage, orders.json, images:annotate, graphql)
// stay. A few words fail the rule and are templated too (strengths). A
// random id of a few lower-case letters may still read as a word: where
// an API puts a secret in its paths, name its routes with [WithRoute].
func RouteTemplate(req *http.Request) string {
	if req == nil || req.URL == nil {
		return "/"
	}
	return templatePath(req.URL.Path)
}

// VariableSegment reports whether RouteTemplate replaces the path segment
// seg (one without a slash) by "{}".
func VariableSegment(seg string) bool { return !name(seg) }

// RedactURL returns u as it may be logged: its scheme, host and path as a
// route template ([RouteTemplate]), without user info, query or fragment,
// any of which may hold a credential. A URL without a host gives only its
// path's template; one with a host and no path, no path.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.Opaque != "" {
		return u.Scheme + ":{}" // mailto:someone@example.com
	}
	switch {
	case u.Path == "" && u.Host != "":
		return withRoute(u, "")
	case u.Path == "" && u.Scheme != "":
		return u.Scheme + "://" // https:// of a base URL without its host
	}
	return withRoute(u, templatePath(u.Path))
}

// redactRaw is RedactURL of s, a URL that does not parse, as best it can
// be told: what follows a '?' or '#' is dropped, and so is what precedes
// the last '@' of the authority; the path becomes its template.
func redactRaw(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	prefix, rest := "", s
	if i := strings.Index(s, "://"); i > 0 && isScheme(s[:i]) {
		prefix, rest = s[:i+3], s[i+3:]
		authority, path := rest, ""
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			authority, path = rest[:j], rest[j:]
		}
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			authority = authority[at+1:]
		}
		prefix, rest = prefix+authority, path
	}
	if rest == "" {
		return prefix
	}
	return prefix + templatePath(rest)
}

// isScheme reports whether s is a URL scheme: a letter, then letters,
// digits, '+', '-' or '.'.
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUpper(c) && !isLower(c) && (i == 0 || (c < '0' || c > '9') && c != '+' && c != '-' && c != '.') {
			return false
		}
	}
	return s != ""
}

// withRoute returns u's scheme and host followed by route, the template
// of its path.
func withRoute(u *url.URL, route string) string {
	route = rooted(route)
	switch {
	case u.Host == "" && u.Scheme == "":
		return route
	case u.Host == "":
		return u.Scheme + ":" + route
	case u.Scheme == "":
		return "//" + u.Host + route
	}
	return u.Scheme + "://" + u.Host + route
}

// rooted returns route with a leading slash: a WithRoute func may return
// "chat.postMessage".
func rooted(route string) string {
	if route != "" && route[0] != '/' {
		return "/" + route
	}
	return route
}

// templatePath is RouteTemplate of the path p.
func templatePath(p string) string {
	if p == "" {
		return "/"
	}
	if !needsTemplate(p) {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for rest := p; rest != ""; {
		var seg string
		seg, rest = nextSegment(rest)
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		if name(seg) {
			b.WriteString(seg)
		} else {
			b.WriteString("{}")
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// nextSegment splits p after its first path segment.
func nextSegment(p string) (seg, rest string) {
	p = strings.TrimLeft(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// needsTemplate reports whether p has a segment to replace, an empty one
// or a trailing slash: the common path of names only is returned as it is,
// without allocating.
func needsTemplate(p string) bool {
	if p[0] != '/' || strings.Contains(p, "//") || len(p) > 1 && p[len(p)-1] == '/' {
		return true
	}
	for rest := p; rest != ""; {
		var seg string
		seg, rest = nextSegment(rest)
		if !name(seg) {
			return true
		}
	}
	return false
}

// Bounds of a name, see RouteTemplate.
const (
	maxNameLen      = 64
	maxPartWords    = 4
	maxAcronymLen   = 4 // letters of acronyms in a segment
	maxWordLen      = 16
	shortWordLen    = 4 // a word this short needs not look like one
	maxConsonantRun = 4
	maxRareLetters  = 2
	lettersPerVowel = 8
)

// name reports whether seg is a version or a name, as RouteTemplate
// defines them: a segment kept as it is.
func name(seg string) bool {
	if isVersion(seg) {
		return true
	}
	if seg == "" || len(seg) > maxNameLen {
		return false
	}
	acronym := 0
	for rest := seg; rest != ""; {
		i := strings.IndexAny(rest, ".-_:")
		part := rest
		if i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if part == "" || isVersion(part) {
			continue
		}
		n, ok := nameWords(part)
		if !ok {
			return false
		}
		if acronym += n; acronym > maxAcronymLen {
			return false
		}
	}
	return true
}

// nameWords reports whether part, a run of letters, is made of words as
// RouteTemplate defines them, and returns the number of its letters in
// acronyms.
func nameWords(part string) (acronym int, ok bool) {
	words := 0
	for start := 0; start < len(part); {
		end := wordEnd(part, start)
		if end < 0 {
			return 0, false // not a letter
		}
		w := part[start:end]
		words++
		if words > maxPartWords || words > 1 && len(w) < 2 || start == 0 && end < len(part) && len(w) < 2 {
			return 0, false
		}
		if isUpper(w[0]) && (len(w) == 1 || isUpper(w[1])) {
			acronym += len(w)
		} else if !wordLike(w) {
			return 0, false
		}
		start = end
	}
	return acronym, true
}

// wordEnd returns where the word that starts at part[start] ends: at a
// change from lower to upper case (post|Message), or before the last
// capital of a run followed by a lower-case letter (URL|External); -1 if
// part[start:] holds something other than a letter.
func wordEnd(part string, start int) int {
	for i := start; i < len(part); i++ {
		c := part[i]
		if !isUpper(c) && !isLower(c) {
			return -1
		}
		if i == start {
			continue
		}
		if isUpper(c) && (isLower(part[i-1]) || i+1 < len(part) && isLower(part[i+1])) {
			return i
		}
	}
	return len(part)
}

// wordLike reports whether w, a lower-case or capitalized word, reads as
// one: short enough, and, beyond a few letters, with vowels where words
// have them and few of the letters words seldom hold.
func wordLike(w string) bool {
	if len(w) > maxWordLen {
		return false
	}
	if len(w) <= shortWordLen {
		return true
	}
	vowels, run, rare := 0, 0, 0
	for i := 0; i < len(w); i++ {
		c := w[i] | 0x20 // lower case
		switch c {
		case 'a', 'e', 'i', 'o', 'u', 'y':
			vowels++
			run = 0
		case 'j', 'k', 'q', 'v', 'x', 'z':
			rare++
			run++
		default:
			run++
		}
		if run > maxConsonantRun || rare > maxRareLetters {
			return false
		}
		if i+1 < len(w) && rarePairs[c-'a']&(1<<(w[i+1]|0x20-'a')) != 0 {
			return false
		}
	}
	return vowels*lettersPerVowel >= len(w)
}

// rarePairs is rareAfter as bit sets: bit b of rarePairs[a] is set when
// the letter 'a'+b seldom follows 'a'+a.
var rarePairs = func() (sets [26]uint32) {
	for a, after := range rareAfter {
		for i := 0; i < len(after); i++ {
			sets[a] |= 1 << (after[i] - 'a')
		}
	}
	return sets
}()

// rareAfter holds, for each letter, the letters that seldom follow it in
// an English word (qz, jx, vb): a pair of them marks a random string. The
// pairs that prefixes and compounds make (subgroup, endpoint, devtools,
// graphql) are not in it.
var rareAfter = [26]string{
	'b' - 'a': "qxz",
	'c' - 'a': "bdfgjpvwxz",
	'd' - 'a': "qxz",
	'f' - 'a': "jkpqvxz",
	'g' - 'a': "jkqvxz",
	'h' - 'a': "jkvxz",
	'j' - 'a': "bcdfghjklmnpqrstvwxz",
	'k' - 'a': "cjqvxz",
	'l' - 'a': "jqxz",
	'm' - 'a': "jqxz",
	'p' - 'a': "jqvxz",
	'q' - 'a': "abcdefghijkmnopqrstvwxyz",
	'r' - 'a': "jqxz",
	's' - 'a': "jxz",
	't' - 'a': "jkqvx",
	'v' - 'a': "bcdfghjkmnpqwxz",
	'w' - 'a': "jqvxz",
	'x' - 'a': "gjkqrvwz",
	'y' - 'a': "jqx",
	'z' - 'a': "bcdfgjkmnpqrstvwx",
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

// isVersion reports whether seg names an API version: v1, v2, V3, v1beta1,
// v2.1.
func isVersion(seg string) bool {
	if len(seg) < 2 || len(seg) > 10 || seg[0] != 'v' && seg[0] != 'V' || seg[1] < '0' || seg[1] > '9' {
		return false
	}
	for i := 2; i < len(seg); i++ {
		c := seg[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '.') {
			return false
		}
	}
	return true
}
