// Package endpoint owns the rule for an endpoint override of a cloud API
// (KMS, IAM, FunctionGraph, Lambda) and the form in which an error may show
// one. The KMS adapter (huaweikms.CheckEndpoint), the targets, the IAM
// discoverer, the self-invocation dispatchers and the process's
// configuration use it, so that they agree. Standard library only: the
// targets, which must not pull in an SDK, use it too.
package endpoint

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Check returns ep in the one form the SDKs take (scheme in lower case,
// https:// when none is given, no trailing "/"), or why it cannot be one:
// only a scheme (http or https), a host, an optional port (a number from 1
// to 65535, not empty after a ":") and a path prefix; no user, query or
// fragment, which an SDK would sign wrongly or send nowhere. Spaces
// around ep are ignored. service names the endpoint in the errors: "KMS"
// gives "the KMS endpoint has no host", "" gives "the endpoint has no
// host". The errors never repeat a user, password or query.
func Check(service, ep string) (string, error) {
	the := theEndpoint(service)
	ep = strings.TrimSpace(ep)
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	switch {
	case err != nil && strings.Contains(err.Error(), "invalid port"):
		// Not repeated: whatever follows the ":" is not a port.
		return "", errors.New(the + "'s port is not a number from 1 to 65535")
	case err != nil:
		return "", errors.New(the + " is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%s's scheme is %q: want http or https", the, u.Scheme)
	case u.Host == "":
		return "", errors.New(the + " has no host")
	case u.User != nil:
		return "", errors.New(the + " holds a user name or password: give the host only (credentials go in the credentials)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New(the + " has a query or fragment: give the scheme, host and port only")
	}
	if err := checkPort(u); err != nil {
		return "", errors.New(the + err.Error())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String(), nil
}

// CheckHost is Check for an SDK that appends its own paths to the
// endpoint (SMN, Cloud Eye, OBS): a path is refused too (a trailing "/"
// alone is dropped, as Check drops it), so that no request goes to a path
// nobody meant.
func CheckHost(service, ep string) (string, error) {
	checked, err := Check(service, ep)
	if err != nil {
		return "", err
	}
	if u, err := url.Parse(checked); err != nil || u.Path != "" || u.RawPath != "" {
		return "", errors.New(theEndpoint(service) + " has a path: give the scheme, host and port only (the SDK adds its own paths)")
	}
	return checked, nil
}

// theEndpoint names service's endpoint in an error: "the KMS endpoint",
// or "the endpoint".
func theEndpoint(service string) string {
	if service == "" {
		return "the endpoint"
	}
	return "the " + service + " endpoint"
}

// checkPort checks u's port, when it has a ":" after its host: a number
// from 1 to 65535. Its error follows "the ... endpoint".
func checkPort(u *url.URL) error {
	port := u.Port()
	if port == "" {
		// url.Parse takes "host:" with an empty port; an IPv6 address
		// ends with "]" or "]:port".
		if strings.HasSuffix(u.Host, ":") {
			return errors.New("'s port is empty: want a number from 1 to 65535, or no \":\"")
		}
		return nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("'s port is %q: want a number from 1 to 65535", port)
	}
	return nil
}

// Shown is an endpoint as an error may show it: a user name or password
// replaced by xxxxx, a query or fragment by "...", a port that is not
// digits (a password without its user, "http://admin:secret") by xxxxx,
// even when the URL does not parse.
func Shown(v string) string {
	rest, scheme := v, ""
	if i := strings.Index(v, "://"); i >= 0 {
		scheme, rest = v[:i+3], v[i+3:]
	}
	cut := ""
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest, cut = rest[:i], "..."
	}
	// Mask up to the last "@": a user part cannot hide behind it (at worst
	// a path with an "@" is masked too).
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = "xxxxx" + rest[i:]
	}
	return scheme + maskPort(rest) + cut
}

// maskPort replaces the port of rest (host[:port][/path...]) by xxxxx
// when it is not digits.
func maskPort(rest string) string {
	end := len(rest)
	if i := strings.Index(rest, "/"); i >= 0 {
		end = i
	}
	host := rest[:end]
	start := strings.LastIndex(host, "@") + 1 // after a masked user part
	if j := strings.LastIndex(host, "]"); j >= start {
		start = j // an IPv6 address: its colons are not a port's
	}
	i := strings.LastIndex(host[start:], ":")
	if i < 0 {
		return rest
	}
	port := host[start+i+1:]
	if strings.Trim(port, "0123456789") == "" {
		return rest
	}
	return rest[:start+i+1] + "xxxxx" + rest[end:]
}
