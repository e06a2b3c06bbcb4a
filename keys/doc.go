// Package keys owns the issuer's signing keys: it generates them (RS256 by
// default, OIDC's mandatory algorithm; ES256 on request), seals the private
// halves with AES-256-GCM under a key derived from the system secret before
// they reach storage, rotates them, and publishes the public halves as a
// JWKS (go-jose v4) with RFC 7638 thumbprints as key ids.
//
// Each algorithm of Options.Algs keeps an active key of its own (ActiveFor):
// a rotation replaces the keys of its algorithm only, and New makes the key
// of an algorithm that has none (docs/design.md, "ID-token algorithm per
// tenant").
//
// # Rotation across servers
//
// Several servers share one database, and each reloads the keys every
// RefreshInterval (MANAM_KEY_REFRESH, 30 s by default). A rotation must not
// let one server sign with a key another does not know yet, so:
//
//   - Rotate stores the new key with an activation time PropagationDelay
//     ahead (default 2 × RefreshInterval, so 60 s: one missed reload is
//     tolerated; never less than RefreshInterval; the rotating process uses
//     its own setting, so it must match the servers'). The key is published
//     (JWKS, discovery, verification) from the moment a server loads it,
//     and signs only from its activation. Every server therefore has it
//     before anyone signs with it. The JWKS is served with a cache lifetime
//     of PropagationDelay − RefreshInterval (JWKSMaxAge, 30 s by default),
//     so no cached copy, even one fetched from a server about to reload,
//     outlives the activation of a key it lacks.
//   - A server signs with the newest key whose activation time has passed
//     and that is not retired. The choice is made at each signature against
//     the server's clock, so all servers switch at the activation time, not
//     at their next reload.
//   - The keys a rotation replaces are retired at the new key's activation
//     and stay published for PropagationDelay + MaxTokenLifetime + Margin
//     (5 min, for clock skew) from the rotation: the last token they sign
//     is made at the activation and lives MaxTokenLifetime.
//   - The process running `manam keys rotate` computes that from its own
//     settings, which may differ from the servers'. So at every reload a
//     server that may have signed with a now retired key since its previous
//     reload raises that key's publication (never lowers it) to the last
//     moment it could have signed with it plus its own MaxTokenLifetime and
//     Margin. The publication thus follows the longest token lifetime of
//     the servers that really signed with the key, and a server that
//     switched late (its reloads failed past the activation) keeps the old
//     key published for the tokens it signed meanwhile.
//   - Verification (id_token_hint, JWT access tokens) finds any published
//     key by kid. A well-formed kid no loaded key has makes the manager
//     reload once (Verifier), at most once per MissReloadInterval (1 s), so
//     a token signed by a server that switched a little earlier is accepted.
//   - RotateNow (`manam keys rotate --now`) is for a compromised key: the new
//     key signs at once on the rotating process and on each server from its
//     next reload (within RefreshInterval). Until then those servers still
//     sign with the old key, and relying parties holding a cached JWKS may
//     meet the new kid before they refetch it. It also cancels a pending
//     key. Retired keys stay published as after Rotate: unpublishing a
//     compromised key early is a separate decision.
//   - Prune (run by `manam gc` and the server's sweep) deletes a retired key
//     once its publication has passed.
//
// Keys stored before activation times existed (schema migration 13) count
// as active from their creation. Servers of a release older than that
// step ignore activation times and sign with a rotated key at their next
// reload: while any runs, do not rotate (README, Upgrading; docs/design.md).
//
// It hands fosite the raw crypto.Signer (fosite's own signer speaks go-jose
// v3 and rejects a v4 JWK). It imports storage and nothing else of Manam's.
package keys
