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
// Service is split by what it owns, into sub-services over one shared
// core (core.go: clock, logger, passwords, throttles and lockout,
// tenants' settings, accounts, mail and SMS), each declaring the stores it
// uses next to it:
//
//   - Accounts (account.go, profile.go, membership.go, importer.go):
//     making, importing and finding accounts, profiles, memberships.
//   - Sessions (sessions.go, authenticate.go): password sign-in, device
//     cookies, browser sessions. Consents (consent.go): what users granted.
//   - SecondFactors (factors.go, pending.go, factorproof.go, enrol.go,
//     factormanage.go, factoremail.go): second factors, half-done
//     sign-ins, recovery codes, remembered devices.
//   - Lifecycle (lifecycle.go, register.go, sms.go, recover.go, change.go,
//     dialects.go): registration, confirmation, recovery, changes of
//     password, e-mail address and mobile number.
//   - Federation (federation.go, federationlink.go): upstream identities.
//
// Service embeds them all, so its callers see every operation on one
// value while they move; new code takes only the sub-service it uses
// (svc.Sessions, svc.SecondFactors, …).
//
// It must not import net/http, gorm, fosite, or any Manam package but
// storage (for the row types its stores exchange).
package idp
