package api

// RedactProperties is redactProperties, for tests outside the package.
var RedactProperties = redactProperties
