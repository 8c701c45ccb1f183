package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// HTTPMetrics counts requests and their latency by method, route template
// and status. Routes are labelled by their template (Gin's FullPath,
// "/api/events/events/:id"), never by the raw path, and methods outside
// the standard set are "OTHER": a client cannot grow the number of series.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// noRoute labels requests that matched no route (404, 405).
const noRoute = "(no route)"

// NewHTTPMetrics registers crvshub_http_requests_total and
// crvshub_http_request_duration_seconds with reg.
func NewHTTPMetrics(reg prometheus.Registerer) *HTTPMetrics {
	labels := []string{"method", "route", "status"}
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crvshub_http_requests_total",
			Help: "HTTP requests answered, by method, route template and status code"}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "crvshub_http_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by method, route template and status code",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, labels),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// middleware observes every request once its answer is written.
func (m *HTTPMetrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = noRoute
		}
		l := prometheus.Labels{"method": metricMethod(c.Request.Method), "route": route, "status": strconv.Itoa(c.Writer.Status())}
		m.requests.With(l).Inc()
		m.duration.With(l).Observe(time.Since(start).Seconds())
	}
}

// metricMethod bounds the method label to the standard methods.
func metricMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}
