// Package auth is crvshub's token issuer and verifier for system
// (integration) clients, wire-compatible with the OpenCRVS v2 auth service.
//
// The hub signs its own RS256 JWTs. LoadOrCreateKey loads the signing key
// from a PEM file or creates one in the data folder on first start, and
// publishes the public half as a PEM (GET /auth/.well-known) and a JWKS
// (GET /auth/.well-known/jwks.json). Clients registers, disables, enables
// and rotates system clients, whose secrets are kept only as bcrypt hashes.
// TokenHandler answers the OAuth2 client_credentials grant at
// POST /auth/token (and the OpenCRVS v1 alias POST /token), reading the
// credentials from a JSON body, a form body or the query string. Issuer
// signs the tokens (claims scope, userType, sub, iss, aud, iat, exp, jti),
// Verifier checks them, and Authenticator turns a bearer token into a
// core.Principal, reading the client from the store on every call so that
// a disabled or deleted client is locked out at once.
//
// Secrets and tokens are never logged and never appear in error messages.
package auth
