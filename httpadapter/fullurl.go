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
//     [RouteTemplate]). Other values are kept, as otelhttp keeps them.
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
func FullURL(u *url.URL) string {
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
	writePath(&b, u.EscapedPath())
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
	redactFrom := len(segs)
	for i, seg := range segs {
		lower := strings.ToLower(seg)
		switch {
		case lower == "hooks" || strings.HasPrefix(lower, "webhook"):
			redactFrom = min(redactFrom, i+1)
		case lower == "services" && i+3 < len(segs) && slackID(segs[i+1], 'T') && slackID(segs[i+2], 'B'):
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

// telegramToken reports whether seg is "bot" followed by a Telegram bot
// token, digits then a colon (or its escape %3A).
func telegramToken(seg string) bool {
	rest, ok := strings.CutPrefix(seg, "bot")
	if !ok {
		return false
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	return n > 0 && (strings.HasPrefix(rest[n:], ":") || strings.HasPrefix(strings.ToUpper(rest[n:]), "%3A"))
}

// sensitiveParts are what a query parameter's name holds when its value is
// likely a credential (see FullURL).
var sensitiveParts = []string{"token", "key", "secret", "sig", "pass", "pwd", "auth", "credential", "session", "jwt", "code", "cookie"}

// writeQuery writes the raw query q with the values of sensitive
// parameters redacted. It works on the raw text, split at '&' and ';', so
// that a query url.ParseQuery refuses (a ';', a bad escape) is redacted
// too.
func writeQuery(b *strings.Builder, q string) {
	for q != "" {
		param := q
		if i := strings.IndexAny(q, "&;"); i >= 0 {
			param, q = q[:i], q[i:] // q keeps its separator
		} else {
			q = ""
		}
		if param == "" {
			b.WriteByte(q[0]) // "&" or ";", as sent
			q = q[1:]
			continue
		}
		k, _, hasValue := strings.Cut(param, "=")
		switch {
		case !hasValue && !name(param):
			b.WriteString(Redacted)
		case hasValue && sensitiveName(k):
			b.WriteString(k)
			b.WriteString("=" + Redacted)
		default:
			b.WriteString(param)
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
