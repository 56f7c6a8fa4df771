package targets

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// checkEndpoint is huaweikms.CheckEndpoint's rule, word for word: a KMS
// endpoint in the one form the SDK takes (scheme in lower case, https://
// when none is given, no trailing "/"), or why it cannot be one: only a
// scheme, a host and a path; no user, query or fragment. Its errors never
// repeat a user, password or query.
//
// It is a copy because this package must not import huaweikms: the
// invocation pipeline and the platform adapters use targets, and the
// architecture test forbids them the KMS adapter and the SDK it pulls in.
// TestCheckEndpointAgrees pins the copy to the original; the rule's home
// should become a package without the SDK that both call.
func checkEndpoint(ep string) (string, error) {
	ep = strings.TrimSpace(ep)
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", errors.New("the KMS endpoint is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("the KMS endpoint's scheme is %q: want http or https", u.Scheme)
	case u.Host == "":
		return "", errors.New("the KMS endpoint has no host")
	case u.User != nil:
		return "", errors.New("the KMS endpoint holds a user name or password: give the host only (credentials go in the credentials)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("the KMS endpoint has a query or fragment: give the scheme, host and port only")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String(), nil
}
