package mfa

import "errors"

// Sentinel errors. Callers test them with errors.Is; the wrapped message may
// carry detail for the log but never a code, a token or a secret.
var (
	// ErrMalformed reports input that does not have the shape of what was
	// expected (a TOTP code that is not 6 digits, a recovery code that is
	// not two groups of five letters or digits, a malformed device token).
	ErrMalformed = errors.New("mfa: malformed input")

	// ErrInvalidCode reports a well-formed TOTP code that matches none of the
	// accepted time steps.
	ErrInvalidCode = errors.New("mfa: invalid code")

	// ErrReplayed reports a TOTP code whose time step is not after the last
	// step the account used: the same code again, or an older one after a
	// newer one (RFC 6238 §5.2).
	ErrReplayed = errors.New("mfa: code already used")

	// ErrInvalidSecret reports a stored TOTP secret that is not base32 or is
	// shorter than 128 bits (RFC 4226 §4 R6). It is a server-side problem,
	// not the user's.
	ErrInvalidSecret = errors.New("mfa: invalid TOTP secret")

	// ErrSealed reports a sealed value that cannot be opened: malformed,
	// unknown version, tampered with, sealed under another key or for
	// other associated data.
	ErrSealed = errors.New("mfa: cannot open sealed value")

	// ErrKeySize reports a Sealer key that is not 32 bytes.
	ErrKeySize = errors.New("mfa: key must be 32 bytes")
)
