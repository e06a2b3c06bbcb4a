package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Connector types.
const (
	TypeOIDC   = "oidc"   // any OpenID Connect provider with discovery
	TypeGoogle = "google" // the OIDC connector with Google's defaults
)

// Google's preset.
const (
	GoogleIssuer = "https://accounts.google.com"
	GoogleName   = "Google"
)

// Token endpoint client authentication methods (OIDC Core §9).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
)

// DefaultMaxAge is how long a login may take between Start and Finish.
const DefaultMaxAge = 10 * time.Minute

// DefaultScopes are the scopes requested when Config.Scopes is empty.
func DefaultScopes() []string { return []string{"openid", "email", "profile"} }

// Config declares one upstream. The cmd package fills it from the
// configuration file, and ClientSecret from the environment.
type Config struct {
	// ID names the upstream in URLs and links: lower-case letters, digits,
	// '-' and '_', at most 64. Required.
	ID string `json:"id"`
	// Type is TypeOIDC (the default) or TypeGoogle.
	Type string `json:"type,omitempty"`
	// Name is shown on the login page. Default "Google" for TypeGoogle,
	// else the ID.
	Name string `json:"name,omitempty"`
	// Issuer is the OIDC issuer URL; discovery reads
	// Issuer + "/.well-known/openid-configuration" and the discovered issuer
	// must equal it. https, or http on a loopback host (tests). Required
	// for TypeOIDC; default https://accounts.google.com for TypeGoogle.
	Issuer string `json:"issuer,omitempty"`
	// ClientID is the client registered with the upstream. Required.
	ClientID string `json:"client_id"`
	// ClientSecret comes from the environment, never from the file.
	// Required. It prints as "[redacted]".
	ClientSecret Secret `json:"-"`
	// Scopes requested; must include "openid". Default openid email profile.
	Scopes []string `json:"scopes,omitempty"`
	// HostedDomain restricts Google logins to one Workspace domain: it is
	// sent as the hd parameter (a hint to Google's account chooser only)
	// and the ID token's hd claim must equal it, else ErrDomain. Optional.
	HostedDomain string `json:"hosted_domain,omitempty"`
	// AuthParams are extra authorization request parameters, e.g.
	// prompt=select_account. They may not override the protocol's own.
	AuthParams map[string]string `json:"auth_params,omitempty"`
	// AuthMethod is how the token endpoint authenticates the client:
	// AuthClientSecretBasic or AuthClientSecretPost. Default: basic if the
	// upstream advertises it (or advertises nothing, the OIDC default),
	// else post.
	AuthMethod string `json:"auth_method,omitempty"`
	// MaxAge bounds the time between Start and Finish. Default 10 min.
	MaxAge time.Duration `json:"max_age,omitempty"`
}

// Secret is a string that does not print: fmt, slog and encoding/json show
// "[redacted]".
type Secret string

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return `"` + redacted + `"` }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// reservedParam reports the authorization parameters the connector sets
// itself.
func reservedParam(k string) bool {
	switch k {
	case "client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
		"code_challenge", "code_challenge_method", "hd":
		return true
	}
	return false
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// WithDefaults returns c with its documented defaults (and the Google preset)
// filled in. It does not validate.
func (c Config) WithDefaults() Config {
	if c.Type == "" {
		c.Type = TypeOIDC
	}
	if c.Type == TypeGoogle {
		if c.Issuer == "" {
			c.Issuer = GoogleIssuer
		}
		if c.Name == "" {
			c.Name = GoogleName
		}
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if len(c.Scopes) == 0 {
		c.Scopes = DefaultScopes()
	} else {
		c.Scopes = slices.Clone(c.Scopes)
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	return c
}

// Validate reports every problem of c (with defaults applied) together, each
// wrapping ErrConfig.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: upstream %q: %s: %s", ErrConfig, c.ID, field, fmt.Sprintf(format, args...)))
	}
	if !idPattern.MatchString(c.ID) {
		bad("id", "must be 1-64 of a-z, 0-9, '-', '_', starting with a letter or digit")
	}
	if c.Type != TypeOIDC && c.Type != TypeGoogle {
		bad("type", "must be %q or %q, not %q", TypeOIDC, TypeGoogle, c.Type)
	}
	if err := checkIssuer(c.Issuer); err != nil {
		bad("issuer", "%v", err)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		bad("client_id", "required")
	}
	if c.ClientSecret == "" {
		bad("client_secret", "required (from the environment)")
	}
	if !slices.Contains(c.Scopes, "openid") {
		bad("scopes", "must include openid")
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			bad("scopes", "invalid scope %q", s)
		}
	}
	if c.HostedDomain != "" && !validDomain(c.HostedDomain) {
		bad("hosted_domain", "%q is not a domain name", c.HostedDomain)
	}
	for k := range c.AuthParams {
		if k == "" || reservedParam(k) {
			bad("auth_params", "may not set %q", k)
		}
	}
	if c.AuthMethod != "" && c.AuthMethod != AuthClientSecretBasic && c.AuthMethod != AuthClientSecretPost {
		bad("auth_method", "must be %q or %q, not %q", AuthClientSecretBasic, AuthClientSecretPost, c.AuthMethod)
	}
	if c.MaxAge < 0 {
		bad("max_age", "must not be negative")
	}
	return errors.Join(errs...)
}

// checkIssuer requires an absolute https URL (http on a loopback host) with
// no query or fragment (OIDC Discovery §3).
func checkIssuer(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %q", s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute URL without user, query or fragment", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("%q must use https (http only on a loopback host)", s)
		}
	default:
		return fmt.Errorf("%q must use https", s)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validDomain(d string) bool {
	if len(d) > 253 || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// checkRedirectURI requires the absolute URL the caller registered upstream.
func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("%w: redirect URI %q must be an absolute URL without fragment", ErrConfig, s)
	}
	return nil
}
