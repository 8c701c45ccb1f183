package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crvshub/crvshub/core"
	"github.com/crvshub/crvshub/core/store/storetest"
)

func openTemp(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "crvshub.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store { return openTemp(t, Options{}) })
}
