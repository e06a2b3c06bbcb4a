// Package mfa owns the pure, storage-free building blocks of Manam's second
// factors:
//
//   - TOTP (RFC 6238, built on HOTP, RFC 4226): enrolment keys with their
//     otpauth:// URI and QR code, and validation with ±1 step of clock skew
//     and replay protection (the caller stores the returned step);
//   - recovery codes: generation, normalisation of what users type, and
//     keyed, account-bound hashes matched in constant time;
//   - a Sealer that encrypts secrets at rest (AES-256-GCM, account id as
//     associated data), used for TOTP seeds;
//   - remember-this-device tokens: the cookie value and the id the server
//     stores in its place.
//
// Everything here is deterministic given the randomness (an io.Reader) and
// the time the caller passes in: there is no clock, no global state and no
// storage. Persisting seeds, last-used steps, code hashes and device ids is
// the job of package idp and its stores; SMS and e-mail one-time codes live
// in package idp too and are not duplicated here.
//
// It must not import net/http, gorm, or any Manam package.
//
// # TOTP parameters
//
// Keys use what every authenticator app expects: HMAC-SHA1, 6 digits, a
// 30-second period, and a 160-bit secret (RFC 4226 §4 R6 requires at least
// 128 bits and recommends 160), base32 encoded without padding.
//
// # Recovery code entropy
//
// A recovery code is two groups of five characters, "qh7eg-78iii", drawn
// uniformly (rejection sampling, no modulo bias) from the 36 lowercase
// letters and digits. That is 10 × log2(36) ≈ 51.7 bits per code; with the
// default 10 codes an online guess hits one of them with probability
// 10/36^10 ≈ 2^-48.4. The full alphabet is kept (no look-alike removal) so
// the format is the one the legacy system handed out; normalisation makes
// typing forgiving instead (case, spaces, optional dash). Codes are stored
// as HMAC-SHA256 under a server key and bound to the account id, so a
// stolen table cannot be brute-forced without the key and a hash cannot be
// moved to another account.
package mfa
