// Package adapters holds the port between the hub and National ID systems:
// the NationalID interface an adapter implements (register a birth or a
// death, verify an identity claim), the Registration and Outcome it takes
// and gives, and the Resolver and Correlations an adapter's callback uses
// to complete a deferred registration. Each adapter lives in its own
// sub-package (adapters/mosip today) and depends on core and this package
// only, and registers itself by name (Register) in an init; the hub builds
// the adapters its partners file names through the registry. A contract
// suite every adapter passes against its mock is still planned.
package adapters
