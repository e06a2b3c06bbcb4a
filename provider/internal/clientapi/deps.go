package clientapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/storage"
)

// The small interfaces through which the dialects use the account
// service (*idp.Service) and the provider (*provider.Provider): what both
// dialects use is declared here once, by capability; each dialect adds
// what only it uses and composes its own set.

// Accounts is what every client dialect uses of the account service.
type Accounts interface {
	SignIns
	Sessions
	Members
	Registrations
	Recovery
}

// SignIns prove who someone is (a first factor), then run the one
// sign-in sequence (idp.Service.SignIn), or finish one whose second factor
// was just proven (FinishSignIn). A dialect only translates the Outcome.
type SignIns interface {
	AuthenticateFor(ctx context.Context, clientID, identifier, password string, from idp.Source) (*storage.Account, error)
	SignIn(ctx context.Context, a idp.SignInAttempt) (idp.Outcome, error)
	FinishSignIn(ctx context.Context, acct *storage.Account, amr []string, remember bool, replaces string) (idp.Outcome, error)
	Join(ctx context.Context, accountID, clientID, via string) error
}

// Sessions read and end sessions.
type Sessions interface {
	Session(ctx context.Context, token string) (*idp.Session, error)
	EndSession(ctx context.Context, token string) error
}

// Members read accounts and their membership of a tenant.
type Members interface {
	Account(ctx context.Context, id string) (*storage.Account, error)
	AccountByIdentifier(ctx context.Context, identifier string) (*storage.Account, error)
	Membership(ctx context.Context, accountID, clientID string) (*storage.Membership, error)
}

// Registrations make accounts and mail their confirmation again.
type Registrations interface {
	Register(ctx context.Context, in idp.Registration, links idp.Links, from idp.Source) (*storage.Account, error)
	ResendConfirmation(ctx context.Context, email string, links idp.Links) error
}

// Recovery resets a forgotten password with a mailed token.
type Recovery interface {
	RequestRecovery(ctx context.Context, email string, links idp.Links, from idp.Source) error
	ResetPassword(ctx context.Context, token, password, confirm string) (*storage.Account, error)
}

// Tokens are the provider's tokens for a tenant the dialect identified:
// the same tokens as /oauth2/token.
type Tokens interface {
	IssueFor(ctx context.Context, client *storage.Client, in provider.IssueRequest) (*provider.Tokens, error)
	RefreshFor(ctx context.Context, client *storage.Client, refreshToken string) (*provider.Tokens, error)
	AccessTokenInfo(ctx context.Context, token string) (*provider.TokenInfo, error)
}

// Tenants read a tenant by its client id (storage.Tenants).
type Tenants interface {
	Get(ctx context.Context, id string) (*storage.Tenant, error)
}

// ClientOf is a tenant's OAuth client, for Tokens (nil for none).
func ClientOf(t *storage.Tenant) *storage.Client {
	if t == nil {
		return nil
	}
	return storage.ClientFromTenant(t)
}

// PeerSource is where a request comes from when the assembly says
// nothing better: the peer's address (see provider.Provider.Source).
func PeerSource(r *http.Request, _ *storage.Tenant) idp.Source {
	return idp.FromAddr(provider.PeerAddr(r))
}

// Links are the URLs and language of a call's mail: the hosted pages on
// issuer, for the call's tenant (its name as the product) or, without
// one, for product.
func Links(issuer, product string, c *Call) idp.Links {
	l := idp.Links{
		Confirm:     func(token string) string { return issuer + "/confirm?token=" + url.QueryEscape(token) },
		Reset:       func(token string) string { return issuer + "/recover/reset?token=" + url.QueryEscape(token) },
		ChangeEmail: func(token string) string { return issuer + "/account/email/confirm?token=" + url.QueryEscape(token) },
		SignIn:      issuer + "/",
		Recover:     issuer + "/recover",
		Product:     product,
		Lang:        c.Lang,
	}
	if c.Tenant != nil {
		l.ClientID, l.Product = c.Tenant.ID, c.Tenant.Name
	}
	return l
}
