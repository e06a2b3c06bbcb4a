// Package deliverytest runs a real SMTP server on loopback for tests, and
// decodes what it received.
package deliverytest
