//go:build !race

package durability_test

// raceEnabled: see race_test.go.
const raceEnabled = false
