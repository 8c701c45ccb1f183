// Package adapters holds the port between the hub and National ID systems:
// the NationalID interface an adapter implements (register a birth or a
// death, verify an identity claim), the Registration and Outcome it takes
// and gives, and the Resolver and Correlations an adapter's callback uses
// to complete a deferred registration. Each adapter lives in its own
// sub-package (adapters/mosip today) and depends on core and this package
// only; the hub wires the adapters it is configured with in hub/app. A
// registry that selects adapters by name, and a contract suite every
// adapter passes against its mock, come with the adapter-registry issue.
package adapters
