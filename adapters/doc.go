// Package adapters holds the port between the hub and National ID systems
// (MOSIP, E-Signet, OSIA) and the registry that selects an adapter by
// name. Each adapter lives in its own sub-package (adapters/mosip, ...)
// and depends on core and this package only. See docs/DESIGN.md section 6.
package adapters
