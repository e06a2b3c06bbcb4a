package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	logins   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "manam_http_requests_total", Help: "HTTP requests by route, method and status."}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "manam_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "manam_tokens_issued_total", Help: "Token responses issued, by grant type."}, []string{"grant"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "manam_logins_total", Help: "Hosted login attempts by outcome."}, []string{"outcome"}),
	}
	reg.MustRegister(m.requests, m.latency, m.tokens, m.logins)
	// A private registry has no runtime metrics yet; a shared one may.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// MetricsHandler serves the Prometheus metrics (on /metrics of the public
// handler, unless Config.MetricsElsewhere).
func (p *Provider) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(p.gatherer, promhttp.HandlerOpts{})
}

func (p *Provider) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (p *Provider) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := withTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := p.db.Ready(ctx); err != nil {
		p.log.WarnContext(r.Context(), "readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unreachable\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// StatusClientClosed is the status recorded for a request whose client
// went away before the answer (nginx's 499).
const StatusClientClosed = 499

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the id of the request ctx belongs to.
// WithRequestID returns ctx carrying a request id (the middleware sets it
// for every request; work started outside a request may set its own).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

var goodRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// middleware gives every request an id (a sane X-Request-Id is kept),
// caps its body, recovers panics into a bare 500, and records metrics and
// one log line for each failure.
func (p *Provider) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !goodRequestID.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		ctx := WithRequestID(r.Context(), id)
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes)
		}
		sw := &statusWriter{ResponseWriter: w}
		route := "other"
		defer func() {
			if rec := recover(); rec != nil {
				p.log.ErrorContext(ctx, "panic", "request_id", id, "panic", rec, "stack", string(debug.Stack()))
				if sw.status == 0 {
					http.Error(sw, "Internal error", http.StatusInternalServerError)
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			if status >= 500 && ctx.Err() != nil {
				// The client hung up (its context ended) and the work it
				// left failed for that: not the server's failure. Counted
				// as 499, nginx's "client closed request".
				status = StatusClientClosed
				p.log.InfoContext(ctx, "client closed the request", "request_id", id, "method", r.Method, "route", route)
			}
			p.metrics.requests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(status)).Inc()
			p.metrics.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
			if status >= 500 {
				p.log.ErrorContext(ctx, "request failed", "request_id", id, "method", r.Method, "route", route, "status", status)
			} else if p.log.Enabled(ctx, slog.LevelDebug) {
				p.log.DebugContext(ctx, "request", "request_id", id, "method", r.Method, "route", route, "status", status, "duration", time.Since(start))
			}
		}()
		next.ServeHTTP(sw, routeCapture(r, &route))
	})
}

type routeKey struct{}

// routeCapture lets the router report the matched route template back to the middleware.
func routeCapture(r *http.Request, dst *string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), routeKey{}, dst))
}

// noteRoute records the route template for metrics (called by handlers via the mux middleware).
func noteRoute(r *http.Request) {
	if dst, ok := r.Context().Value(routeKey{}).(*string); ok {
		*dst = routeName(r)
	}
}

// methodLabel bounds the method label: clients choose methods freely, and
// every new label value would be a new series kept forever.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
