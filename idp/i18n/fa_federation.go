package i18n

// faFederation holds the phrases of signing in with Google and other upstreams.
var faFederation = map[string]string{}
