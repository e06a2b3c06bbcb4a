package upstream

import (
	"encoding/json"
	"strings"
)

// profileClaims are the standard claims Identity carries (OIDC Core §5.1).
type profileClaims struct {
	Email         string   `json:"email"`
	EmailVerified flexBool `json:"email_verified"`
	Name          string   `json:"name"`
	GivenName     string   `json:"given_name"`
	FamilyName    string   `json:"family_name"`
	Picture       string   `json:"picture"`
	Locale        string   `json:"locale"`
	Birthdate     string   `json:"birthdate"`
}

// identityFromClaims maps a JSON object of claims to an Identity (without
// Upstream, Subject and HostedDomain, which the caller takes from the ID
// token).
func identityFromClaims(raw json.RawMessage) (*Identity, error) {
	var c profileClaims
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &Identity{
		Email:         c.Email,
		EmailVerified: bool(c.EmailVerified),
		Name:          c.Name,
		GivenName:     c.GivenName,
		FamilyName:    c.FamilyName,
		Picture:       c.Picture,
		Locale:        c.Locale,
		Birthdate:     c.Birthdate,
		RawClaims:     raw,
	}, nil
}

// flexBool reads email_verified as Google sends it (a boolean) and as some
// providers do (the string "true" or "false"). Anything else, null
// included, reads as false: an e-mail is verified only when an upstream
// says so plainly.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		*b = flexBool(v)
	case string:
		*b = flexBool(strings.EqualFold(strings.TrimSpace(v), "true"))
	default:
		*b = false
	}
	return nil
}
