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
	"strings"
)

// Check returns ep in the one form the SDKs take (scheme in lower case,
// https:// when none is given, no trailing "/"), or why it cannot be one:
// only a scheme (http or https), a host and a path prefix; no user, query
// or fragment, which an SDK would sign wrongly or send nowhere. Spaces
// around ep are ignored. service names the endpoint in the errors: "KMS"
// gives "the KMS endpoint has no host", "" gives "the endpoint has no
// host". The errors never repeat a user, password or query.
func Check(service, ep string) (string, error) {
	the := "the endpoint"
	if service != "" {
		the = "the " + service + " endpoint"
	}
	ep = strings.TrimSpace(ep)
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
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
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String(), nil
}

// Shown is an endpoint as an error may show it: a user name or password
// replaced by xxxxx, a query or fragment by "...", even when the URL does
// not parse.
func Shown(v string) string {
	rest, scheme := v, ""
	if i := strings.Index(v, "://"); i >= 0 {
		scheme, rest = v[:i+3], v[i+3:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i] + "..."
	}
	// Mask up to the last "@": a user part cannot hide behind it (at worst
	// a path with an "@" is masked too).
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = "xxxxx" + rest[i:]
	}
	return scheme + rest
}
