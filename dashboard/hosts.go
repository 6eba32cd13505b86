package dashboard

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// hosts is the allowlist of Host names that actions accept; see
// Config.AllowedHosts.
type hosts struct {
	any      bool
	exact    map[string]bool
	suffixes []string // ".example.com": example.com and every subdomain
}

// newHosts checks and compiles Config.AllowedHosts.
func newHosts(list []string) (hosts, error) {
	hs := hosts{exact: make(map[string]bool)}
	for i, h := range list {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		switch {
		case h == "*":
			hs.any = true
		case h == "" || h == ".":
			return hosts{}, fmt.Errorf("dashboard: Config.AllowedHosts[%d] is empty: give a host name such as \"tasks.example.com\", or \".example.com\" for a domain and its subdomains", i)
		case strings.ContainsAny(h, "/:@ *"):
			return hosts{}, fmt.Errorf("dashboard: Config.AllowedHosts[%d] is %q: give a bare host name, with no scheme, port, path or wildcard (\".example.com\" allows a domain and its subdomains, \"*\" any host)", i, list[i])
		case strings.HasPrefix(h, "."):
			hs.suffixes = append(hs.suffixes, h)
		default:
			hs.exact[h] = true
		}
	}
	return hs, nil
}

// allowed reports whether an action may be served to a request for host
// (a Host header: a name or an IP literal, with or without a port).
//
// IP literals and loopback names are always allowed: a DNS-rebinding page
// reaches a dashboard on 127.0.0.1 only under a name of the attacker's,
// which the browser sends as Host, never under an IP literal or localhost.
func (hs hosts) allowed(host string) bool {
	if hs.any {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	switch {
	case host == "":
		return false
	case net.ParseIP(host) != nil:
		return true
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return true
	case hs.exact[host]:
		return true
	}
	for _, s := range hs.suffixes {
		if host == s[1:] || strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

func errHostNotAllowed(host string) *failure {
	return fail(http.StatusForbidden, CodeHostNotAllowed,
		"actions are refused for host %q: it is not a loopback name or an IP address, and not in dashboard.Config.AllowedHosts; "+
			"add the name the dashboard is served under there (this guards against DNS rebinding)", host)
}
