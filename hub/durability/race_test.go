//go:build race

package durability_test

// raceEnabled: the test binary was built with -race, so the hub binary the
// kill test builds is too (it then shares the build cache with this test).
const raceEnabled = true
