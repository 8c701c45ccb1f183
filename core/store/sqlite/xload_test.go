package sqlite

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestXLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("XLOAD"))
	if n == 0 {
		t.Skip()
	}
	s := openTemp(t, Options{})
	defer s.Close()
	start := time.Now()
	for k := 0; k < n; k += 10000 {
		loadEvents(t, s, k, k+10000)
		t.Logf("%d: %v", k+10000, time.Since(start))
	}
	fi, _ := os.Stat(s.path)
	t.Logf("size %d MB", fi.Size()>>20)
}
