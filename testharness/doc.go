// Package testharness holds what tests and load runs need beyond the hub
// itself: an in-process hub with real parts (hubtest), and, as the
// integrations arrive, mock partners (MOSIP, E-Signet, OSIA, HIS
// simulator, webhook receiver) with fault injection, and the load
// generator behind `crvshub loadtest`.
package testharness
