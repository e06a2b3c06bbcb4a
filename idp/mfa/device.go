package mfa

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// DeviceTokenSize is the number of random bytes in a remember-this-device
// token (256 bits).
const DeviceTokenSize = 32

// NewDeviceToken returns a remember-this-device token for the cookie
// (DeviceTokenSize random bytes from rand, base64url without padding) and
// the id the server stores in its place, hex(sha256(token)). A fast unkeyed
// hash is enough: the token has 256 bits of entropy, so the id cannot be
// inverted, and a database leak does not reveal usable cookies.
func NewDeviceToken(rand io.Reader) (token, id string, err error) {
	if rand == nil {
		return "", "", errors.New("mfa: nil randomness source")
	}
	var b [DeviceTokenSize]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", "", fmt.Errorf("mfa: device token randomness: %w", err)
	}
	token = b64.EncodeToString(b[:])
	return token, deviceTokenID(token), nil
}

// DeviceTokenID returns the stored id of a token presented in a cookie, for
// the caller to look up. A value that is not a token NewDeviceToken could
// have made is ErrMalformed.
func DeviceTokenID(token string) (string, error) {
	b, err := b64.DecodeString(token)
	if err != nil || len(b) != DeviceTokenSize {
		return "", fmt.Errorf("%w: not a device token", ErrMalformed)
	}
	return deviceTokenID(token), nil
}

func deviceTokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
