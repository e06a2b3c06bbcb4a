package storage

import "time"

// Tenant is an OAuth client and the legacy tenant it stands for.
type Tenant struct {
	ID                     string    `gorm:"primaryKey;size:64"`
	Name                   string    `gorm:"size:200;not null"`
	SecretHash             []byte    `gorm:"size:255"`
	RedirectURIs           []string  `gorm:"serializer:json;type:text"`
	PostLogoutRedirectURIs []string  `gorm:"serializer:json;type:text"`
	GrantTypes             []string  `gorm:"serializer:json;type:text"`
	ResponseTypes          []string  `gorm:"serializer:json;type:text"`
	Scopes                 []string  `gorm:"serializer:json;type:text"`
	Public                 bool      `gorm:"not null"`
	FirstParty             bool      `gorm:"not null"`
	AccessTokenFormat      string    `gorm:"size:16;not null"`
	CustomerToken          string    `gorm:"size:64;not null;uniqueIndex"`
	CreatedAt              time.Time `gorm:"not null"`
	UpdatedAt              time.Time `gorm:"not null"`

	TenantSettings `gorm:"embedded"`
}

// TenantSettings is what a tenant decides about its users' mail and sign-in.
type TenantSettings struct {
	// ConfirmURL is the tenant's own confirmation page: links in
	// confirmation mail go there (with the token) instead of to Manam's.
	ConfirmURL string `gorm:"size:2000;not null;default:''"`
	// MailFrom is the sender of the tenant's mail ("" for Manam's own).
	MailFrom string `gorm:"size:320;not null;default:''"`
	// AllowUnconfirmed lets members sign in before confirming their address.
	AllowUnconfirmed bool `gorm:"not null;default:false"`
	// RequireMFA: every sign-in through the tenant needs a second factor.
	RequireMFA bool `gorm:"column:require_mfa;not null;default:false"`
	// MFAConfirmEmail: enrolling a second factor through the tenant first
	// re-confirms the e-mail address (the legacy dialect's flow).
	MFAConfirmEmail bool `gorm:"column:mfa_confirm_email;not null;default:false"`
	// RefreshGraceSeconds: for this long after a rotation, the rotated
	// refresh token returns the same successor instead of counting as
	// reuse (0 to MaxRefreshGrace; 0 turns it off).
	RefreshGraceSeconds int `gorm:"column:refresh_grace;not null;default:0"`
	// BackendCIDRs are the tenant's own servers (migration 15): their API
	// calls are throttled per end user, not per address.
	BackendCIDRs []string `gorm:"column:backend_cidrs;serializer:json;type:text"`
	// IDTokenAlg is the algorithm of the tenant's ID tokens (migration
	// 16): "RS256" (the default, which OpenID Connect requires every
	// provider to offer) or "ES256". "" reads as RS256.
	IDTokenAlg string `gorm:"column:id_token_alg;size:8;not null;default:'RS256'"`
}

// TableName implements gorm's tabler.
func (Tenant) TableName() string { return "tenants" }

// TokenRow is one stored fosite request: an authorization code, a PKCE
// request, an OpenID Connect session, an access token or a refresh token.
type TokenRow struct {
	ID                string    `gorm:"primaryKey;size:64"` // hex SHA-256 of the signature
	RequestID         string    `gorm:"size:64;not null;index"`
	RequestedAt       time.Time `gorm:"not null"`
	ClientID          string    `gorm:"size:64;not null;index"`
	Subject           string    `gorm:"size:255;not null;index"`
	Scopes            string    `gorm:"type:text"`
	GrantedScopes     string    `gorm:"type:text"`
	RequestedAudience string    `gorm:"type:text"`
	GrantedAudience   string    `gorm:"type:text"`
	Form              string    `gorm:"type:text"`
	Session           []byte
	Active            bool      `gorm:"not null"`
	AccessID          string    `gorm:"size:64;not null"` // refresh tokens: the access token row issued with it
	ExpiresAt         time.Time `gorm:"not null;index"`
}

// The five token tables share one shape; separate types give each its own
// index names (SQLite's index names are global to the database).
type (
	authorizeCodeRow struct{ TokenRow }
	pkceRow          struct{ TokenRow }
	oidcSessionRow   struct{ TokenRow }
	accessTokenRow   struct{ TokenRow }
	refreshTokenRow  struct{ TokenRow }
)

const (
	tableCodes   = "oauth2_authorize_codes"
	tablePKCE    = "oauth2_pkce_requests"
	tableOIDC    = "oauth2_oidc_sessions"
	tableAccess  = "oauth2_access_tokens"
	tableRefresh = "oauth2_refresh_tokens"
)

func (authorizeCodeRow) TableName() string { return tableCodes }
func (pkceRow) TableName() string          { return tablePKCE }
func (oidcSessionRow) TableName() string   { return tableOIDC }
func (accessTokenRow) TableName() string   { return tableAccess }
func (refreshTokenRow) TableName() string  { return tableRefresh }

// Account is a local account.
type Account struct {
	ID            string  `gorm:"primaryKey;size:36"`
	Email         *string `gorm:"size:320;uniqueIndex"` // lower-cased; nil for accounts without e-mail
	EmailVerified bool    `gorm:"not null"`
	// Mobile is an E.164 number (nil for accounts without one); either it
	// or the e-mail can be the login.
	Mobile         *string   `gorm:"size:16;uniqueIndex"`
	MobileVerified bool      `gorm:"not null;default:false"`
	PasswordHash   string    `gorm:"size:255;not null"`
	Name           string    `gorm:"size:200;not null"`
	CreatedAt      time.Time `gorm:"not null"`
	UpdatedAt      time.Time `gorm:"not null"`

	Profile `gorm:"embedded"`

	// Sign-in failures: FailedLogins within the window that began at
	// FailureWindowStart; LockedUntil after too many; Lockouts so far,
	// which grows the next lock. A success clears them.
	FailedLogins       int `gorm:"not null;default:0"`
	FailureWindowStart *time.Time
	LockedUntil        *time.Time
	Lockouts           int `gorm:"not null;default:0"`
}

// TableName implements gorm's tabler.
func (Account) TableName() string { return "accounts" }

// Profile is what an account tells about its person (the fields the legacy
// API documents). Birthday is stored as a Gregorian date, with the
// calendar the person gave it in.
type Profile struct {
	FirstName        string     `gorm:"size:100;not null;default:''"`
	LastName         string     `gorm:"size:100;not null;default:''"`
	NationalCode     string     `gorm:"size:10;not null;default:''"`
	Birthday         *time.Time `gorm:"type:date"`
	BirthdayCalendar string     `gorm:"size:16;not null;default:''"` // "gregorian" or "solar_hijri"
	PictureURL       string     `gorm:"size:2000;not null;default:''"`
	Address          string     `gorm:"size:500;not null;default:''"`
	PostalCode       string     `gorm:"size:12;not null;default:''"`
	MaritalStatus    string     `gorm:"size:16;not null;default:''"`
	FacebookID       string     `gorm:"size:100;not null;default:''"`
	InstagramID      string     `gorm:"size:100;not null;default:''"`
	TwitterID        string     `gorm:"size:100;not null;default:''"`
	LinkedInID       string     `gorm:"column:linkedin_id;size:100;not null;default:''"`
	Document         string     `gorm:"size:200;not null;default:''"`
	Telephone        string     `gorm:"size:20;not null;default:''"`
}

// ProfileColumns are Profile's fields, for migrations.
var ProfileColumns = []string{"FirstName", "LastName", "NationalCode", "Birthday", "BirthdayCalendar", "PictureURL", "Address",
	"PostalCode", "MaritalStatus", "FacebookID", "InstagramID", "TwitterID", "LinkedInID", "Document", "Telephone"}

// LoginSession is a signed-in browser: its cookie value is never stored, only a hash.
type LoginSession struct {
	ID         string    `gorm:"primaryKey;size:64"` // hex SHA-256 of the cookie value
	SID        string    `gorm:"column:sid;size:64;not null;uniqueIndex"`
	AccountID  string    `gorm:"size:36;not null;index"`
	AuthTime   time.Time `gorm:"not null"`
	AMR        string    `gorm:"size:100;not null"`
	ACR        string    `gorm:"size:100;not null"`
	Remember   bool      `gorm:"not null"`
	CreatedAt  time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null;index"`
	Account    *Account  `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`
	LastSeenAt time.Time `gorm:"not null"`
}

// TableName implements gorm's tabler.
func (LoginSession) TableName() string { return "login_sessions" }

// Consent is what a user granted a tenant.
type Consent struct {
	AccountID string    `gorm:"primaryKey;size:36"`
	ClientID  string    `gorm:"primaryKey;size:64"`
	Scopes    []string  `gorm:"serializer:json;type:text"`
	GrantedAt time.Time `gorm:"not null"`
	Account   *Account  `gorm:"foreignKey:AccountID;constraint:OnDelete:CASCADE"`
	Tenant    *Tenant   `gorm:"foreignKey:ClientID;constraint:OnDelete:CASCADE"`
}

// TableName implements gorm's tabler.
func (Consent) TableName() string { return "consents" }

// SigningKey is a private signing key, encrypted by package keys.
type SigningKey struct {
	KID          string     `gorm:"column:kid;primaryKey;size:64"`
	Alg          string     `gorm:"size:16;not null"`
	PrivateKey   []byte     `gorm:"not null"` // sealed by package keys; storage never sees it in the clear
	CreatedAt    time.Time  `gorm:"not null;index"`
	ActivatesAt  *time.Time // when servers start signing with it; published (JWKS, verification) from creation. Nil (rows older than migration 13): CreatedAt
	RetiredAt    *time.Time // when a newer key takes (or took) over signing
	PublishUntil *time.Time // after this, no token it signed is valid: unpublish and delete
}

// TableName implements gorm's tabler.
func (SigningKey) TableName() string { return "signing_keys" }

// schemaMigration records an applied migration.
type schemaMigration struct {
	Version   int       `gorm:"primaryKey;autoIncrement:false"`
	Name      string    `gorm:"size:200;not null"`
	AppliedAt time.Time `gorm:"not null"`
}

func (schemaMigration) TableName() string { return "schema_migrations" }
