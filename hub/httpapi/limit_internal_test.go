package httpapi

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// TestLimitConcurrency: with one slot taken, a second request waits, then
// gets 429 with Retry-After; once the slot is free requests pass again.
func TestLimitConcurrency(t *testing.T) {
	gin.SetMode(gin.TestMode)
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	e := gin.New()
	e.GET("/x", limitConcurrency(1, 100*time.Millisecond), func(c *gin.Context) {
		entered <- struct{}{}
		<-release
		c.Status(http.StatusOK)
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, err := http.Get(srv.URL + "/x")
		if err != nil || res.StatusCode != 200 {
			t.Errorf("first request: %v %v", res, err)
		}
	}()
	<-entered
	start := time.Now()
	res, err := http.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("second request: %d %v", res.StatusCode, res.Header)
	}
	if waited := time.Since(start); waited < 90*time.Millisecond {
		t.Fatalf("refused after %v, should wait for a slot first", waited)
	}
	close(release)
	wg.Wait()
	res, err = http.Get(srv.URL + "/x")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("after release: %v %v", res, err)
	}
}
