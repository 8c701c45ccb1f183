// Package mosip is the MOSIP National ID adapter: it registers births and
// deaths as MOSIP packets (authmanager + packetmanager createPacket +
// registration-processor workflowinstance), receives the CREDENTIAL_ISSUED
// WebSub delivery that completes them (decrypts and verifies the
// credential, then resolves the Requested action), keeps its WebSub
// subscription alive, and verifies identities with MOSIP IDA demographic
// authentication.
//
// It registers itself as "mosip" (adapters.Register, settings.go) and owns
// its settings (Settings, the partners file's mosip block), their defaults
// (URLs under baseUrl, the callback URL under the hub's public URL) and the
// hub's partner key in <data>/keys.
//
// Unlike OpenCRVS's mosip-api mediator it derives the packet id from the
// event and action ids (a retry never makes a second MOSIP registration),
// stores the correlation before calling MOSIP, deletes it only after the
// action has been resolved, checks the WebSub signature and the
// credential's proof, and tells transient from permanent MOSIP errors.
// The wire formats follow MOSIP's own services (authmanager, packetmanager,
// registration-processor, WebSub, IDA); testharness/mosipmock implements
// them independently, with its own keys and crypto.
package mosip
