package httpadapter

import (
	"net/url"
	"strings"
)

// Redacted is what [FullURL] writes in place of a secret.
const Redacted = "REDACTED"

// FullURL returns u as the url.full attribute of the OpenTelemetry HTTP
// semantic conventions records it: the real URL, with what is known to
// carry a credential replaced by [Redacted], so that a trace shows which
// resource a request was about without holding a secret.
//
//   - User info becomes REDACTED:REDACTED, as the conventions ask
//     (https://opentelemetry.io/docs/specs/semconv/registry/attributes/url/).
//   - A query parameter whose name holds token, key, secret, sig, pass,
//     pwd, auth, credential, session, jwt, code or cookie, in any case,
//     keeps its name and loses its value: api_key=REDACTED,
//     X-Amz-Signature=REDACTED (the conventions' own list, AWSAccessKeyId,
//     Signature, sig and X-Goog-Signature, is part of it). A parameter
//     without a value is kept only when it reads as a name (see
//     [RouteTemplate]). Other values are kept, as otelhttp keeps them. The
//     list is a best effort, not a guarantee: a credential under another
//     name (OpenWeather's appid, say) is recorded as it is; such an API
//     needs its own rule.
//   - The path is the real one, except where an API puts a secret in it:
//     a Slack incoming webhook (/services/T…/B…/secret: the secret), a
//     catch hook of Zapier and the like (everything after a "hooks"
//     segment), a Discord or Teams webhook (everything after a segment
//     that starts with "webhook"), a Telegram bot token (a segment "bot"
//     followed by digits and a colon).
//   - The fragment, never sent, is dropped.
//
// An API that keeps other secrets in its paths needs its own rule: the
// OpenTelemetry bridge takes one (otelbridge.WithURLFull), and
// [RedactURL] (the route template) keeps no path segment that is not a
// name.
func FullURL(u *url.URL) string { return fullURL(u, "", false) }

// FullURLWithRoute is [FullURL] with route, the template of u's path
// ([WithRoute], else [RouteTemplate]), in place of the path: for a request
// whose path holds a secret ([WithSecretPath]).
func FullURLWithRoute(u *url.URL, route string) string { return fullURL(u, route, true) }

// fullURL is FullURL, with route for the path when withRoute is set.
func fullURL(u *url.URL, route string, withRoute bool) string {
	if u == nil {
		return ""
	}
	if u.Opaque != "" {
		return u.Scheme + ":" + Redacted
	}
	var b strings.Builder
	b.Grow(len(u.Host) + len(u.RawPath) + len(u.Path) + len(u.RawQuery) + 16)
	if u.Scheme != "" {
		b.WriteString(u.Scheme)
		b.WriteByte(':')
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil {
		b.WriteString("//")
		if u.User != nil {
			b.WriteString(Redacted + ":" + Redacted + "@")
		}
		b.WriteString(u.Host)
	}
	if withRoute {
		b.WriteString(rooted(route))
	} else {
		p := u.EscapedPath()
		if p != "" && p[0] != '/' && u.Host != "" {
			b.WriteByte('/') // as url.URL.String does: the path must not run into the host
		}
		writePath(&b, p)
	}
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteByte('?')
		writeQuery(&b, u.RawQuery)
	}
	return b.String()
}

// writePath writes p, escaped as it is sent, with the secrets of the
// webhook shapes FullURL names redacted.
func writePath(b *strings.Builder, p string) {
	segs := strings.Split(p, "/")
	// The rules read each segment as the server does, unescaped: /h%6Foks/
	// is /hooks/. What is written stays escaped as it is sent.
	plain := make([]string, len(segs))
	for i, seg := range segs {
		plain[i] = seg
		if u, err := url.PathUnescape(seg); err == nil {
			plain[i] = u
		}
	}
	redactFrom := len(segs)
	for i, seg := range plain {
		lower := strings.ToLower(seg)
		switch {
		case lower == "hooks" || strings.HasPrefix(lower, "webhook"):
			redactFrom = min(redactFrom, i+1)
		case lower == "services" && i+3 < len(segs) && slackID(plain[i+1], 'T') && slackID(plain[i+2], 'B'):
			redactFrom = min(redactFrom, i+3)
		case telegramToken(seg):
			segs[i] = Redacted
		}
	}
	for i, seg := range segs {
		if i > 0 {
			b.WriteByte('/')
		}
		if i >= redactFrom && seg != "" {
			seg = Redacted
		}
		b.WriteString(seg)
	}
}

// slackID reports whether seg looks like a Slack team (T…) or bot (B…) id:
// the letter, then capital letters and digits.
func slackID(seg string, first byte) bool {
	if len(seg) < 2 || seg[0] != first {
		return false
	}
	for i := 1; i < len(seg); i++ {
		if c := seg[i]; !isUpper(c) && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// telegramToken reports whether seg, unescaped, is "bot" followed by a
// Telegram bot token: digits, then a colon.
func telegramToken(seg string) bool {
	rest, ok := strings.CutPrefix(seg, "bot")
	if !ok {
		return false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	return n > 0 && strings.HasPrefix(rest[n:], ":")
}

// sensitiveParts are what a query parameter's name holds when its value is
// likely a credential (see FullURL).
var sensitiveParts = []string{"token", "key", "secret", "sig", "pass", "pwd", "auth", "credential", "session", "jwt", "code", "cookie"}

// writeQuery writes the raw query q with the values of sensitive
// parameters redacted. It works on the raw text, so that a query
// url.ParseQuery refuses (a ';', a bad escape) is redacted too. Parameters
// are split at '&'; a ';' may split them too (older servers) or be part of
// a value (Go's, WHATWG's), so a parameter is read both ways: from the
// first ';'-separated part whose name is sensitive, the rest of it up to
// the next '&' is redacted.
func writeQuery(b *strings.Builder, q string) {
	for i, param := range strings.Split(q, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		for j, part := range strings.Split(param, ";") {
			if j > 0 {
				b.WriteByte(';')
			}
			k, _, hasValue := strings.Cut(part, "=")
			if hasValue && sensitiveName(k) {
				b.WriteString(k)
				b.WriteString("=" + Redacted)
				break // the rest of param may be this value's
			}
			if !hasValue && part != "" && !name(part) {
				b.WriteString(Redacted)
				continue
			}
			b.WriteString(part)
		}
	}
}

// sensitiveName reports whether the query parameter name k, escaped or
// not, holds one of sensitiveParts.
func sensitiveName(k string) bool {
	if u, err := url.QueryUnescape(k); err == nil {
		k = u
	}
	k = strings.ToLower(k)
	for _, s := range sensitiveParts {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
