// Package mosipcrypto implements the cryptography MOSIP uses on the wire with
// a CRVS partner: VER_R2 hybrid encryption of issued credentials, the
// RsaSignature2018 (detached PS256 JWS over JCS) proof of verifiable
// credentials, the IDA demographic-auth request encryption and the detached
// RS256 "Signature" header, plus small key/certificate helpers.
//
// Every function returns an error on malformed input and never panics.
package mosipcrypto
