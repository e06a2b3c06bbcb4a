package idp

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/manam-id/manam/storage"
)

// TenantSource finds the tenant a flow runs for (storage.Tenants).
type TenantSource interface {
	Get(ctx context.Context, id string) (*storage.Tenant, error)
}

// settings are a tenant's settings: the zero value (Manam's defaults)
// for no tenant, an unknown one, or when tenants cannot be read (the
// failure is logged: a sign-in then follows the defaults, which are the
// strict ones).
func (s *core) settings(ctx context.Context, clientID string) storage.TenantSettings {
	if clientID == "" || s.tenants == nil {
		return storage.TenantSettings{}
	}
	t, err := s.tenants.Get(ctx, clientID)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.log.WarnContext(ctx, "tenant settings unavailable: defaults apply", "tenant", clientID, "err", err)
		}
		return storage.TenantSettings{}
	}
	return t.TenantSettings
}

// forTenant applies the tenant of links.ClientID to mail: its sender, and
// its own confirmation page for confirmation links.
func (s *core) forTenant(ctx context.Context, links Links) Links {
	ts := s.settings(ctx, links.ClientID)
	if ts.MailFrom != "" {
		links.From = ts.MailFrom
	}
	if page := links.ConfirmPage; page != "" {
		links.Confirm = func(token string) string { return TenantConfirmURL(page, token) }
	} else if ts.ConfirmURL != "" {
		links.Confirm = func(token string) string { return TenantConfirmURL(ts.ConfirmURL, token) }
	}
	return links
}

// TenantConfirmURL is a tenant's confirmation page carrying token: in its
// {token} placeholder if it has one, else in a cnf query parameter (the
// name the legacy API reads it back under).
func TenantConfirmURL(page, token string) string {
	if strings.Contains(page, "{token}") {
		return strings.Replace(page, "{token}", url.QueryEscape(token), 1)
	}
	u, err := url.Parse(page)
	if err != nil {
		return page
	}
	q := u.Query()
	q.Set("cnf", token)
	u.RawQuery = q.Encode()
	return u.String()
}
