// Package mosipmock is a MOSIP stand-in for tests and local runs: real HTTP,
// real crypto and MOSIP's wire formats (authmanager, packet manager
// createPacket, registration-processor workflowinstance, WebSub hub with
// intent verification and signed CREDENTIAL_ISSUED deliveries of VER_R2
// encrypted, PS256-signed verifiable credentials, IDA demographic auth and
// the issuer's public-key document), stricter than the OpenCRVS mosip-mock
// it models, plus fault profiles (latency, errors, outages, flapping,
// missing, duplicate, badly signed or unknown callbacks) and counters.
package mosipmock
