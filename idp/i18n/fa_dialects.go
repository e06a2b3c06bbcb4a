package i18n

// faDialects holds the phrases of the client dialects (seeds 002–004).
var faDialects = map[string]string{}
