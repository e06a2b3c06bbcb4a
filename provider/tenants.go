package provider

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/storage"
)

// ErrInvalidTenant wraps every validation problem of a tenant spec.
var ErrInvalidTenant = errors.New("invalid tenant")

// TenantSpec is what an operator says about a tenant.
type TenantSpec struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool
	GrantTypes             []string // default: authorization_code, refresh_token
	Scopes                 []string // default: openid profile email phone offline_access
	FirstParty             bool
	AccessToken            string // "opaque" (default) or "jwt"
	// Settings: the tenant's confirm URL and sender, and its sign-in rules.
	storage.TenantSettings
}

var (
	knownGrants = []string{"authorization_code", "refresh_token", "client_credentials"}
	knownScopes = []string{"openid", "profile", "email", "phone", "offline_access"}
)

func (s *TenantSpec) defaults() {
	if len(s.GrantTypes) == 0 {
		s.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	if len(s.Scopes) == 0 {
		s.Scopes = slices.Clone(knownScopes)
	}
	if s.AccessToken == "" {
		s.AccessToken = formatOpaque
	}
	if s.IDTokenAlg == "" {
		s.IDTokenAlg = idTokenAlgs[0]
	}
	for i, c := range s.BackendCIDRs {
		if canon, err := ParseCIDR(c); err == nil {
			s.BackendCIDRs[i] = canon // Validate reports the others
		}
	}
}

// Validate reports every problem of the spec together.
func (s TenantSpec) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if strings.TrimSpace(s.Name) == "" || len(s.Name) > 200 {
		bad("name must be 1 to 200 characters")
	}
	for _, g := range s.GrantTypes {
		if !slices.Contains(knownGrants, g) {
			bad("unknown grant %q (want %s)", g, strings.Join(knownGrants, ", "))
		}
	}
	for _, sc := range s.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \"\\") || len(sc) > 100 {
			bad("bad scope %q", sc)
		}
	}
	code := slices.Contains(s.GrantTypes, "authorization_code")
	if code && len(s.RedirectURIs) == 0 {
		bad("authorization_code needs at least one --redirect-uri")
	}
	if slices.Contains(s.GrantTypes, "refresh_token") && !code {
		bad("refresh_token needs authorization_code")
	}
	if s.Public && slices.Contains(s.GrantTypes, "client_credentials") {
		bad("a public client cannot use client_credentials")
	}
	if s.AccessToken != formatOpaque && s.AccessToken != formatJWT {
		bad("access token format %q (want opaque or jwt)", s.AccessToken)
	}
	for _, u := range s.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			bad("redirect URI %q: %w", u, err)
		}
	}
	for _, u := range s.PostLogoutRedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			bad("post-logout redirect URI %q: %w", u, err)
		}
	}
	if s.ConfirmURL != "" {
		if err := ValidateConfirmURL(s.ConfirmURL); err != nil {
			bad("confirm URL %q: %w", s.ConfirmURL, err)
		}
	}
	if s.MailFrom != "" {
		if a, err := mail.ParseAddress(s.MailFrom); err != nil || len(s.MailFrom) > 320 || !strings.Contains(a.Address, "@") {
			bad("mail sender %q: want an address such as \"Acme <no-reply@acme.example>\"", s.MailFrom)
		}
	}
	if g := s.RefreshGraceSeconds; g < 0 || time.Duration(g)*time.Second > storage.MaxRefreshGrace {
		bad("refresh grace must be 0 to %s", storage.MaxRefreshGrace)
	}
	if !slices.Contains(idTokenAlgs, s.IDTokenAlg) {
		bad("ID-token algorithm %q (want %s)", s.IDTokenAlg, strings.Join(idTokenAlgs, " or "))
	}
	for _, c := range s.BackendCIDRs {
		if _, err := ParseCIDR(c); err != nil {
			bad("back-end CIDR %q: %v", c, err)
		}
	}
	if len(s.BackendCIDRs) > 100 {
		bad("at most 100 back-end CIDRs")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidTenant, errors.Join(errs...))
}

// ValidateConfirmURL checks a tenant's own confirmation page: an https
// URL (http only on loopback), without a fragment or user info. The
// token goes in its {token} placeholder, or else in a cnf parameter.
func ValidateConfirmURL(raw string) error {
	if err := ValidateRedirectURI(strings.Replace(raw, "{token}", "token", 1)); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); u.Scheme != "https" && u.Scheme != "http" {
		return errors.New("must be an http(s) URL")
	}
	return nil
}

// ValidateRedirectURI checks a URI a tenant registers (RFC 6749 §3.1.2,
// RFC 8252 §7, RFC 9700 §2.1): absolute, no fragment, no user info; https,
// or http only for loopback hosts, or a private-use scheme with a dot (a
// reversed domain name) for native apps. Matching at request time is exact.
func ValidateRedirectURI(raw string) error {
	if raw == "" || len(raw) > 2000 {
		return errors.New("must be 1 to 2000 characters")
	}
	if strings.ContainsAny(raw, " \t\r\n\x00") {
		return errors.New("must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URI")
	}
	if !u.IsAbs() {
		return errors.New("must be absolute")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	if u.User != nil {
		return errors.New("must not carry user info")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return errors.New("https URI needs a host")
		}
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		if h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return errors.New("http is allowed only for localhost and loopback addresses")
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return errors.New("a native app's scheme must be a reversed domain name (com.example.app)")
		}
		if u.Scheme == "javascript" || u.Scheme == "data" || u.Scheme == "file" {
			return errors.New("scheme not allowed")
		}
	}
	return nil
}

// Admin creates and changes tenants (the CLI's tenant commands).
type Admin struct {
	tenants *storage.Tenants
	hasher  *secretHasher
	now     func() time.Time
}

// NewAdmin returns the tenant administration over db; secret is the
// system secret the client-secret hash is keyed with.
func NewAdmin(db *storage.DB, secret []byte) *Admin {
	return &Admin{tenants: storage.NewTenants(db), hasher: &secretHasher{key: keys.Derive(secret, "client secrets")}, now: time.Now}
}

// Created is a new tenant with its secret, shown once. Its JSON shape is
// documented ({"client_id","client_secret","customer_token"}): the secret
// key is always there, "" for a public tenant.
type Created struct {
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	CustomerToken string `json:"customer_token"`
}

// Create validates spec and stores a new tenant.
func (a *Admin) Create(ctx context.Context, spec TenantSpec) (*Created, error) {
	spec.defaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	now := a.now().UTC()
	t := &storage.Tenant{
		ID: randomHex(16), Name: strings.TrimSpace(spec.Name),
		RedirectURIs: nonNil(spec.RedirectURIs), PostLogoutRedirectURIs: nonNil(spec.PostLogoutRedirectURIs),
		GrantTypes: spec.GrantTypes, ResponseTypes: []string{"code"}, Scopes: spec.Scopes,
		Public: spec.Public, FirstParty: spec.FirstParty, AccessTokenFormat: spec.AccessToken,
		CustomerToken: randomHex(16), CreatedAt: now, UpdatedAt: now, TenantSettings: spec.TenantSettings,
	}
	out := &Created{ClientID: t.ID, CustomerToken: t.CustomerToken}
	if !spec.Public {
		secret, hash := a.newSecret(ctx)
		t.SecretHash = hash
		out.ClientSecret = secret
	}
	if err := a.tenants.Create(ctx, t); err != nil {
		return nil, err
	}
	return out, nil
}

// Get loads a tenant.
func (a *Admin) Get(ctx context.Context, id string) (*storage.Tenant, error) {
	return a.tenants.Get(ctx, id)
}

// List lists tenants.
func (a *Admin) List(ctx context.Context) ([]storage.Tenant, error) { return a.tenants.List(ctx) }

// Delete removes a tenant with its tokens.
func (a *Admin) Delete(ctx context.Context, id string) error { return a.tenants.Delete(ctx, id) }

// SpecOf is the spec a stored tenant corresponds to.
func SpecOf(t *storage.Tenant) TenantSpec {
	return TenantSpec{Name: t.Name, RedirectURIs: t.RedirectURIs, PostLogoutRedirectURIs: t.PostLogoutRedirectURIs,
		Public: t.Public, GrantTypes: t.GrantTypes, Scopes: t.Scopes, FirstParty: t.FirstParty, AccessToken: t.AccessTokenFormat,
		TenantSettings: t.TenantSettings}
}

// Update applies change to a tenant's spec, validates, and saves. A
// tenant turned confidential gets a new secret, returned ("" otherwise).
func (a *Admin) Update(ctx context.Context, id string, change func(*TenantSpec)) (string, error) {
	secret := ""
	err := a.tenants.Modify(ctx, id, func(t *storage.Tenant) error {
		spec := SpecOf(t)
		change(&spec)
		spec.defaults()
		if err := spec.Validate(); err != nil {
			return err
		}
		if t.Public && !spec.Public {
			secret, t.SecretHash = a.newSecret(ctx)
		}
		if spec.Public {
			t.SecretHash = nil
		}
		t.Name, t.RedirectURIs, t.PostLogoutRedirectURIs = strings.TrimSpace(spec.Name), nonNil(spec.RedirectURIs), nonNil(spec.PostLogoutRedirectURIs)
		t.Public, t.GrantTypes, t.Scopes, t.FirstParty, t.AccessTokenFormat = spec.Public, spec.GrantTypes, spec.Scopes, spec.FirstParty, spec.AccessToken
		t.TenantSettings = spec.TenantSettings
		return nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// RotateSecret gives a confidential tenant a new secret; the old one stops working at once.
func (a *Admin) RotateSecret(ctx context.Context, id string) (string, error) {
	secret := ""
	err := a.tenants.Modify(ctx, id, func(t *storage.Tenant) error {
		if t.Public {
			return fmt.Errorf("%w: a public client has no secret", ErrInvalidTenant)
		}
		var hash []byte
		secret, hash = a.newSecret(ctx)
		t.SecretHash = hash
		return nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// newSecret is a 256-bit random secret and its keyed hash.
func (a *Admin) newSecret(ctx context.Context) (string, []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	h, _ := a.hasher.Hash(ctx, []byte(s))
	return s, h
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
