// Package redact removes credentials from text before it is printed or
// written into a report: the user and password of URLs
// ("https://user:secret@mirror/debian" becomes "https://***@mirror/debian").
// Mirror URLs of apt sources, registries and proxies may carry them, and
// errors quote those URLs.
//
// It imports only the standard library and must not import any corematrix
// package.
package redact

import "strings"

// URLs returns s with the userinfo of every URL in it ("scheme://userinfo@")
// replaced by "***".
func URLs(s string) string {
	if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			break
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		// The authority ends at the first '/', '?', '#' or white space;
		// its userinfo at its last '@'.
		end := strings.IndexAny(s, "/?# \t\r\n\"'<>")
		if end < 0 {
			end = len(s)
		}
		if at := strings.LastIndexByte(s[:end], '@'); at >= 0 {
			b.WriteString("***")
			s = s[at:]
		}
	}
	b.WriteString(s)
	return b.String()
}

// Userinfo returns the URL u without its userinfo ("" userinfo kept as
// is): what may be passed on where the credentials are not needed.
func Userinfo(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	rest := u[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		return u[:i+3] + rest[at+1:]
	}
	return u
}
