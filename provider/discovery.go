package provider

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/manam-id/manam/idp"
)

// discovery serves /.well-known/openid-configuration: exactly what this
// provider supports (OIDC Discovery 1.0 §3, RFC 8414).
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	iss := p.cfg.Issuer
	algs := p.keys.Algs()
	slices.Sort(algs)
	doc := map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/oauth2/auth",
		"token_endpoint":                        iss + "/oauth2/token",
		"userinfo_endpoint":                     iss + "/userinfo",
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"end_session_endpoint":                  iss + "/oauth2/logout",
		"introspection_endpoint":                iss + "/oauth2/introspect",
		"revocation_endpoint":                   iss + "/oauth2/revoke",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": algs,
		"scopes_supported":                      []string{"openid", "profile", "email", "phone", "offline_access"},
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "acr", "sid",
			"name", "given_name", "family_name", "picture", "birthdate", "updated_at", "email", "email_verified",
			"phone_number", "phone_number_verified"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic"},
		"revocation_endpoint_auth_methods_supported":     []string{"client_secret_basic", "client_secret_post", "none"},
		"prompt_values_supported":                        []string{"none", "login", "consent"},
		"acr_values_supported":                           []string{idp.ACRPassword, idp.ACRMFA},
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"frontchannel_logout_supported":                  false,
		"backchannel_logout_supported":                   false,
		"authorization_response_iss_parameter_supported": false,
		"require_request_uri_registration":               false,
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(doc)
}

// jwks serves the published keys. Retired keys stay here until every token
// they signed has expired.
func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	// Short enough that no cached copy misses a key when it starts signing.
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(p.keys.JWKSMaxAge().Seconds())))
	_, _ = w.Write(p.keys.JWKS())
}
