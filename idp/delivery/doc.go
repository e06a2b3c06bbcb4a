// Package delivery sends what the outbox holds: mail over SMTP (STARTTLS
// when the server offers it, implicit TLS for smtps://, AUTH PLAIN),
// SMS through a generic HTTP gateway, or either to the log in
// development. Its Worker claims due messages from the outbox, sends them,
// and records the outcome, retrying with exponential backoff: a dead SMTP
// server delays mail, never loses it, and never fails the user's request
// (the request only wrote the outbox row, in its own transaction).
//
// Across replicas a message is leased to one worker at a time, and a send
// is bounded well inside the lease, so no two replicas send the same
// message; only a worker that crashes between sending and recording the
// send can cause one repeat, after its lease runs out.
//
// It imports storage (the outbox row type) and nothing else of Manam's.
package delivery
