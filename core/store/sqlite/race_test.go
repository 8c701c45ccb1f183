//go:build race

package sqlite

// raceEnabled: the test binary was built with -race, which makes SQLite
// (compiled Go) about twenty times slower; long randomized tests shrink.
const raceEnabled = true
