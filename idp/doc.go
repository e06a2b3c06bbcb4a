// Package idp owns the people side of Manam: accounts and profiles,
// credentials and the password policy, registration with e-mail
// confirmation, recovery, lockout and throttling, sign-in sessions and
// consent. Its HTML pages live in idp/pages, its message catalog (English,
// Persian) in idp/i18n, and mail/SMS delivery in idp/delivery.
//
// The core speaks no HTTP and no SQL: it declares the small stores it
// consumes (implemented by package storage) and takes its clock, its
// randomness and its logger from the caller. Every surface (the hosted
// pages, the OAuth flow, the legacy dialects) calls the same methods, and
// says where an attempt comes from (Source: a client address, a tenant's
// back end, a device cookie); the throttles' budgets are kept in a
// BucketStore that every replica shares (docs/design.md, "Throttles and
// lockout").
//
// It must not import net/http, gorm, fosite, or any Manam package but
// storage (for the row types its stores exchange).
package idp
