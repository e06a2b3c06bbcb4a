// Package i18n holds every user-facing string of Manam's pages and mail in
// English and Persian, and chooses the language of a request.
//
// English text is the key (gettext style): T("fa", "Sign in") looks the
// phrase up in the Persian catalog and falls back to the English itself.
// A test checks that every phrase the templates and the code use has a
// Persian entry. It imports nothing of Manam's.
package i18n
