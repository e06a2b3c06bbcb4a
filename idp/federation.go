package idp

// LinkStore keeps the links between accounts and upstream identities
// (storage.Links).
type LinkStore interface{}
