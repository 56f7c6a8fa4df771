package huaweiobs

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of OBS that the names here follow.
const (
	// MaxKeyBytes is the longest object key in bytes (UTF-8), prefix
	// included: "An object key is a UTF-8 string up to 1,024 characters
	// long" (https://support.huaweicloud.com/intl/en-us/usermanual-obs/obs_41_0015.html).
	// Counting bytes is the stricter reading.
	MaxKeyBytes = 1024
	// MaxPrefixBytes is the longest Config.Prefix: it leaves 256 bytes of
	// the key for the names the writers put below it.
	MaxPrefixBytes = 768
	// MaxPutBytes is the largest object one PUT uploads: "You can upload
	// an object not more than 5 GB by a PUT or POST operation"
	// (https://support.huaweicloud.com/en-us/devg-obs/obs_06_0028.html);
	// larger objects need a multipart upload, which this store does not
	// do.
	MaxPutBytes int64 = 5 << 30
)

// Scheme starts a location as ParseLocation reads it and Where writes it.
const Scheme = "obs://"

// CheckBucket reports why name cannot be an OBS bucket name, or nil. The
// rules are OBS's (https://support.huaweicloud.com/intl/en-us/sdk-nodejs-devg-obs/obs_29_0108.html,
// "Creating a Bucket"): 3 to 63 characters, only lowercase letters, digits,
// hyphens and periods, starting with a letter or digit; not an IP address
// (four dot-separated numbers); not starting or ending with a hyphen or a
// period; no two adjacent periods; no period next to a hyphen.
func CheckBucket(name string) error {
	bad := func(why string) error { return fmt.Errorf("OBS bucket name %q %s", name, why) }
	switch {
	case len(name) < 3:
		return bad("is shorter than 3 characters")
	case len(name) > 63:
		return bad("is longer than 63 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return bad("may hold only lowercase letters, digits, hyphens (-) and periods (.)")
		}
	}
	switch {
	case name[0] == '-' || name[0] == '.':
		return bad("must start with a letter or digit")
	case name[len(name)-1] == '-' || name[len(name)-1] == '.':
		return bad("must not end with a hyphen or period")
	case strings.Contains(name, ".."):
		return bad("must not hold two adjacent periods")
	case strings.Contains(name, ".-") || strings.Contains(name, "-."):
		return bad("must not hold a period next to a hyphen")
	case looksLikeIPv4(name):
		return bad("must not be an IP address")
	}
	return nil
}

// looksLikeIPv4 reports whether s is four dot-separated runs of digits,
// the form OBS refuses ("192.168.5.4"; "999.1.1.1" too: "or similar").
func looksLikeIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// CheckPrefix reports why p cannot be Config.Prefix, or nil. The empty
// prefix is valid. The object key rules apply (UTF-8, no leading "/"), and
// tagwarden's: at most MaxPrefixBytes bytes (the rest of the 1024-byte key
// is left to the names below it), no control characters (an XML listing
// cannot carry most of them), no empty, "." or ".." segment (a proxy or a
// client may normalize a URL path, sending another key than the one
// signed). A trailing "/" is allowed and changes nothing: objects are
// stored at prefix + "/" + key.
func CheckPrefix(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > MaxPrefixBytes {
		return fmt.Errorf("OBS prefix is %d bytes, more than %d (keys are at most %d bytes, and the names below the prefix need room)", len(p), MaxPrefixBytes, MaxKeyBytes)
	}
	if err := checkKeyChars(p, true); err != nil {
		return fmt.Errorf("OBS prefix %q: %w", p, err)
	}
	return nil
}

// CheckKey reports why key cannot be an object key, or nil: the rules of
// CheckPrefix, not empty, and at most MaxKeyBytes bytes.
func CheckKey(key string) error {
	if key == "" {
		return errors.New("OBS object key is empty")
	}
	if len(key) > MaxKeyBytes {
		return fmt.Errorf("OBS object key is %d bytes, more than %d", len(key), MaxKeyBytes)
	}
	if err := checkKeyChars(key, false); err != nil {
		return fmt.Errorf("OBS object key %q: %w", key, err)
	}
	return nil
}

// checkKeyChars checks a key, or a prefix (one trailing "/" allowed).
func checkKeyChars(k string, prefix bool) error {
	if !utf8.ValidString(k) {
		return errors.New("is not valid UTF-8")
	}
	if strings.HasPrefix(k, "/") {
		return errors.New(`must not start with "/"`)
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return errors.New("holds a control character")
		}
	}
	if prefix {
		k = strings.TrimSuffix(k, "/")
	}
	for _, seg := range strings.Split(k, "/") {
		switch seg {
		case "":
			return errors.New(`holds an empty segment ("//")`)
		case ".", "..":
			return fmt.Errorf("holds a %q segment", seg)
		}
	}
	return nil
}

// ParseLocation splits "obs://bucket/key" (or "obs://bucket/prefix/", or
// "obs://bucket") into the bucket and the rest, which is "" when there is
// none. The rest is taken literally: no percent-decoding, and "?" or "#"
// are characters of the key. The bucket must pass CheckBucket; the rest,
// when not empty, the rules of CheckKey, with a trailing "/" allowed.
func ParseLocation(loc string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(loc, Scheme)
	if !ok {
		return "", "", fmt.Errorf("OBS location %q does not start with %s: want obs://bucket/prefix", loc, Scheme)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if err := CheckBucket(bucket); err != nil {
		return "", "", fmt.Errorf("OBS location %q: %w", loc, err)
	}
	if key == "" {
		return bucket, "", nil
	}
	if len(key) > MaxKeyBytes {
		return "", "", fmt.Errorf("OBS location %q: the key is %d bytes, more than %d", loc, len(key), MaxKeyBytes)
	}
	if err := checkKeyChars(key, true); err != nil {
		return "", "", fmt.Errorf("OBS location %q: the key %w", loc, err)
	}
	return bucket, key, nil
}
