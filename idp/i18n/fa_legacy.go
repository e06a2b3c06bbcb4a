package i18n

// faLegacy holds the phrases of the legacy Manam API (seeds 000 and 001).
var faLegacy = map[string]string{}
