package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/delivery"
	"github.com/manam-id/manam/idp/mfa"
	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/provider/legacy"
	"github.com/manam-id/manam/storage"
)

// app is the assembled program: what every subcommand shares.
type app struct {
	cfg    *Config
	log    *slog.Logger
	db     *storage.DB
	secret []byte
}

// openApp opens the database, applies migrations and resolves the secret.
func openApp(ctx context.Context, cfg *Config, log *slog.Logger) (*app, error) {
	secret, err := cfg.resolveSecret()
	if err != nil {
		return nil, err
	}
	if cfg.secretGenerated != "" {
		log.Warn("MANAM_SECRET is not set: generated a system secret and stored it beside the database. "+
			"Back it up with the database: without it, signing keys and client secrets cannot be used. Set MANAM_SECRET in production.",
			"file", cfg.secretGenerated)
	}
	db, err := storage.Open(ctx, cfg.DSN, storage.WithSQLiteMinFree(cfg.SQLiteMinFree), storage.WithLogger(log))
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("schema migrated", "applied", applied, "version", storage.SchemaVersion())
	}
	if v, err := db.CurrentVersion(ctx); err == nil && v > storage.SchemaVersion() {
		// A newer release migrated the database: this one may run beside it
		// during a rolling upgrade, or after a rollback (README, Upgrading).
		log.Warn("the database schema is newer than this release's: an older release is running during an upgrade or after a rollback",
			"database_version", v, "release_version", storage.SchemaVersion())
	}
	// Every process that revokes access tokens keeps the revocation rows
	// as long as the longest access token lives.
	db.SetMaxAccessTokenLifetime(cfg.AccessTokenTTL)
	return &app{cfg: cfg, log: log, db: db, secret: secret}, nil
}

func (a *app) Close() error { return a.db.Close() }

func (a *app) providerConfig() provider.Config {
	return provider.Config{
		Issuer:               a.cfg.Issuer,
		AccessTokenLifespan:  a.cfg.AccessTokenTTL,
		AccessTokenKeyID:     a.cfg.AccessTokenKeyID,
		RefreshTokenLifespan: a.cfg.RefreshTokenTTL,
		IDTokenLifespan:      a.cfg.IDTokenTTL,
		AuthCodeLifespan:     a.cfg.AuthCodeTTL,
		InsecureDebugErrors:  a.cfg.InsecureDebugErrors,
		TrustedProxies:       a.cfg.TrustedProxies,
		MetricsElsewhere:     a.cfg.MetricsAddr != "",
	}
}

// outbox is the message outbox, bodies sealed under a key of their own.
func (a *app) outbox() *storage.Outbox {
	sealer, err := mfa.NewSealer(keys.Derive(a.secret, "outbox bodies"), rand.Reader)
	if err != nil {
		panic(err) // a 32-byte key and crypto/rand: cannot fail
	}
	return storage.NewOutbox(a.db).WithSealer(sealer)
}

func (a *app) keys(ctx context.Context) (*keys.Manager, error) {
	// A rotation signs with the new key from 2 × MANAM_KEY_REFRESH later
	// (keys.Options.PropagationDelay's default): every server has reloaded,
	// so publishes and accepts it, by then, even after one missed reload.
	// Each ID-token algorithm a tenant may choose keeps an active key.
	return keys.New(ctx, storage.NewSigningKeys(a.db), a.secret, keys.Options{
		Alg: a.cfg.KeyAlg, Algs: []string{keys.RS256, keys.ES256}, MaxTokenLifetime: a.providerConfig().MaxTokenLifetime(),
		RefreshInterval: a.cfg.KeyRefresh, Logger: a.log,
	})
}

func (a *app) idp(notify func()) (*idp.Service, error) {
	conc := a.cfg.HashConcurrency
	if conc == 0 {
		conc = runtime.NumCPU()
	}
	pw, err := idp.NewPasswords(idp.Argon2Params{MemoryKiB: uint32(a.cfg.Argon2MemoryKiB), Time: uint32(a.cfg.Argon2Time), Parallelism: uint8(a.cfg.Argon2Parallelism)}, conc)
	if err != nil {
		return nil, err
	}
	accts := storage.NewAccounts(a.db)
	sealer, err := mfa.NewSealer(keys.Derive(a.secret, "totp seeds"), rand.Reader)
	if err != nil {
		return nil, err
	}
	factors := &idp.FactorsConfig{Store: storage.NewFactors(a.db), Sealer: sealer, CodeKey: keys.Derive(a.secret, "recovery codes"), Issuer: "Manam"}
	return idp.New(a.cfg.Throttle.idpConfig(idp.Config{DefaultCountryCode: a.cfg.DefaultCountryCode}), idp.Deps{Accounts: accts, Sessions: accts, Consents: accts, Passwords: pw, Logger: a.log,
		Buckets: storage.NewThrottles(a.db), DeviceKey: keys.Derive(a.secret, "known device cookies"),
		Lifecycle: &idp.LifecycleConfig{Store: accts, Outbox: a.outbox(), InTx: a.db.InTx, Notify: notify,
			CodeKey: keys.Derive(a.secret, "one-time codes"),
			Revoker: provider.NewStore(a.db), Sessions: accts},
		Tenants: storage.NewTenants(a.db), Factors: factors, Links: storage.NewLinks(a.db)})
}

// server is a running HTTP surface with its background work.
type server struct {
	handler http.Handler
	keys    *keys.Manager
	prov    *provider.Provider
	worker  *delivery.Worker
}

// buildServer assembles keys, idp and provider over an open app.
func (a *app) buildServer(ctx context.Context) (*server, error) {
	km, err := a.keys(ctx)
	if err != nil {
		return nil, err
	}
	mail, sms, err := a.cfg.senders(a.log)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	w, err := delivery.NewWorker(a.outbox(), mail, sms, delivery.WorkerOptions{
		Owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomSuffix()), From: a.cfg.mailFrom(), Logger: a.log,
	})
	if err != nil {
		return nil, err
	}
	svc, err := a.idp(w.Notify)
	if err != nil {
		return nil, err
	}
	upstreams, err := a.cfg.upstreamSet(a.log)
	if err != nil {
		return nil, err
	}
	prov, err := provider.New(a.providerConfig(), provider.Deps{DB: a.db, Keys: km, IDP: svc, Secret: a.secret, Logger: a.log,
		Upstreams: upstreams, UpstreamKey: keys.Derive(a.secret, "upstream state"), IssuerRedirects: []string{legacy.CallbackPath}})
	if err != nil {
		return nil, err
	}
	mounts, err := a.legacyMounts(prov, svc)
	if err != nil {
		return nil, err
	}
	dialects, err := a.dialectMounts(prov, svc)
	if err != nil {
		return nil, err
	}
	return &server{handler: prov.Handler(append(mounts, dialects...)...), keys: km, prov: prov, worker: w}, nil
}

// background runs key refresh, outbox delivery and garbage collection until ctx ends.
func (a *app) background(ctx context.Context, s *server) error {
	go s.keys.Run(ctx)
	if a.cfg.SMTPURL == "log" || a.cfg.SMSURL == "log" {
		a.log.Warn("mail or SMS delivery is set to log: messages, with their links and codes, go to this log (development only)",
			"MANAM_SMTP_URL", a.cfg.SMTPURL == "log", "MANAM_SMS_URL", a.cfg.SMSURL == "log")
	}
	go s.worker.Run(ctx)
	if a.cfg.GCInterval > 0 {
		go func() {
			t := time.NewTicker(a.cfg.GCInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if n, err := a.sweep(ctx, s.prov.Store(), s.keys); err != nil && ctx.Err() == nil {
						a.log.Error("sweep failed", "err", err)
					} else if n > 0 {
						a.log.Info("swept expired rows", "rows", n)
					}
				}
			}
		}()
	}
	return nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sweep deletes expired rows in batches of 500 until none are left (or 100 batches).
func (a *app) sweep(ctx context.Context, st *storage.FositeStore, km *keys.Manager) (int64, error) {
	var total int64
	for range 100 {
		n, err := st.Sweep(ctx, 500, time.Hour)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	// Delivered and given-up mail is kept a week for support questions.
	for range 100 {
		n, err := storage.NewOutbox(a.db).SweepSent(ctx, time.Now().Add(-7*24*time.Hour), 500)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	for range 100 {
		n, err := storage.NewThrottles(a.db).Sweep(ctx, time.Now(), 500)
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	n, err := km.Prune(ctx)
	return total + n, err
}

// serve runs the HTTP server on ln (or a new listener on cfg.Addr when ln
// is nil) until ctx ends, then drains in-flight requests.
func serve(ctx context.Context, cfg *Config, log *slog.Logger, ln net.Listener) error {
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	s, err := a.buildServer(ctx)
	if err != nil {
		return err
	}
	// Start-up (migrations, key loading, template parsing) leaves garbage
	// that would otherwise sit in the idle footprint until the first GC.
	debug.FreeOSMemory()
	// Every argon2id run allocates its memory afresh; with the default GC
	// pacing the heap grows to twice the hashes in flight before a
	// collection. A soft limit of the hashing cap plus a working margin
	// keeps a login flood's footprint near what the cap promises
	// (GOMEMLIMIT, when set, wins).
	if os.Getenv("GOMEMLIMIT") == "" {
		conc := cfg.HashConcurrency
		if conc == 0 {
			conc = runtime.NumCPU()
		}
		limit := int64(48<<20) + int64(conc)*int64(cfg.Argon2MemoryKiB)<<10
		debug.SetMemoryLimit(limit)
		log.Debug("soft memory limit", "bytes", limit)
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	if err := a.background(bg, s); err != nil {
		return err
	}

	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen %s: %w", cfg.Addr, err)
		}
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var mln net.Listener
	if cfg.MetricsAddr != "" {
		// Listening before serving: a taken port fails the start.
		if mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("listen %s (MANAM_METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
		msrv := &http.Server{Handler: metricsMux(s.prov.MetricsHandler()), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("metrics listener on", "addr", mln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.DebugAddr != "" {
		go serveDebug(bg, cfg.DebugAddr, log)
	}
	dbinfo := string(a.db.Dialect())
	if a.db.Dialect() == storage.SQLite {
		dbinfo += ", " + storage.SQLiteDriver
	}
	log.Info("manam serving", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "database", dbinfo)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// metricsMux serves /metrics alone (MANAM_METRICS_ADDR).
func metricsMux(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return mux
}

// serveDebug serves pprof on its own listener (MANAM_DEBUG_ADDR), never on the public one.
func serveDebug(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Warn("pprof debug listener on", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("debug listener failed", "err", err)
	}
}
