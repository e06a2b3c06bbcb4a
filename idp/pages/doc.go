// Package pages serves Manam's hosted HTML pages (login, consent, logout,
// errors): server-rendered from embedded html/template files, usable
// without JavaScript, with a CSRF token on every form.
//
// It calls the idp service for everything it does and learns about the
// authorization request it is part of only through the Flow interface
// (implemented by package provider), so it never imports provider or fosite.
package pages
