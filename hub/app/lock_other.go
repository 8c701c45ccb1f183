//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package app

import "os"

// flock: on systems without flock(2) the data folder is not guarded (the
// hub is deployed on Linux; see the README's data folder note).
func flock(*os.File) (bool, error) { return true, nil }
