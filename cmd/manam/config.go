package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	nmail "net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/manam-id/manam/idp/delivery"
	"github.com/manam-id/manam/storage"
)

// Config is every setting, read once at start and validated together.
// Precedence: command-line flag > environment variable > config file
// (--config FILE or MANAM_CONFIG, a JSON object keyed by flag name).
type Config struct {
	Issuer string // MANAM_ISSUER, --issuer: the issuer URL exactly as clients see it. Default http://localhost:8080.
	Addr   string // MANAM_ADDR, --addr: listen address. Default :8080.
	DSN    string // MANAM_DSN, --dsn: sqlite:PATH or mysql://user:pass@tcp(host:port)/db. Default sqlite:manam.db.
	Secret string // MANAM_SECRET: system secret, ≥ 32 characters. Generated beside the SQLite file when absent; required with MySQL.

	SMTPURL        string // MANAM_SMTP_URL: smtp://user:pass@host:port (STARTTLS when offered), smtps://… (implicit TLS), or log. Default log.
	MailFrom       string // MANAM_MAIL_FROM: sender address. Default no-reply@ + the issuer's host.
	SMSURL         string // MANAM_SMS_URL: the SMS gateway endpoint, or log. Default log.
	SMSMethod      string // MANAM_SMS_METHOD: the gateway's HTTP method. Default POST.
	SMSAuthHeader  string // MANAM_SMS_AUTH_HEADER: "Name: value" sent to the gateway. Default none.
	SMSContentType string // MANAM_SMS_CONTENT_TYPE. Default application/json.
	SMSBody        string // MANAM_SMS_BODY_TEMPLATE: text/template over .To and .Text (functions json, urlquery). Default {"to":{{json .To}},"text":{{json .Text}}}.

	LogLevel  string // MANAM_LOG_LEVEL: debug, info, warn, error. Default info.
	LogFormat string // MANAM_LOG_FORMAT: text or json. Default text.

	KeyAlg          string        // MANAM_KEY_ALG: algorithm of new signing keys, RS256 or ES256. Default RS256.
	KeyRefresh      time.Duration // MANAM_KEY_REFRESH: how often a server reloads signing keys (sees a rotation). Default 30s.
	GCInterval      time.Duration // MANAM_GC_INTERVAL: how often expired rows are swept. Default 10m; 0 disables.
	AccessTokenTTL  time.Duration // MANAM_ACCESS_TOKEN_TTL. Default 1h.
	RefreshTokenTTL time.Duration // MANAM_REFRESH_TOKEN_TTL. Default 720h (30 days).
	IDTokenTTL      time.Duration // MANAM_ID_TOKEN_TTL. Default 1h.
	AuthCodeTTL     time.Duration // MANAM_AUTH_CODE_TTL: authorization code lifetime. Default 5m.

	// AccessTokenKeyID is MANAM_ACCESS_TOKEN_KEY_ID: the seal key id of new
	// access tokens (≥ 1). Raise it by one to rotate; the previous id still opens. Default 1.
	AccessTokenKeyID int

	Argon2MemoryKiB   int // MANAM_ARGON2_MEMORY_KIB. Default 19456.
	Argon2Time        int // MANAM_ARGON2_TIME. Default 2.
	Argon2Parallelism int // MANAM_ARGON2_PARALLELISM. Default 1.
	HashConcurrency   int // MANAM_HASH_CONCURRENCY: password hashes computed at once. Default: number of CPUs.

	DefaultCountryCode string // MANAM_DEFAULT_COUNTRY_CODE: completes national mobile numbers (such as +98). Default none: international form required.

	TrustedProxies []netip.Prefix // MANAM_TRUSTED_PROXIES: comma-separated CIDRs of load balancers whose X-Forwarded-For names the client. Default none.
	// MANAM_LEGACY_TRUSTED_GATEWAYS: comma-separated CIDRs of API gateways
	// that authenticate the legacy API's tenant key themselves and name the
	// tenant (its client id or tenant key) in X-Consumer-ID. Default none:
	// the header is ignored.
	LegacyGateways []netip.Prefix

	Dialects string // MANAM_DIALECTS: JSON array of client dialect mounts (seeds 002–004; see dialectEntry). Default none.

	MetricsAddr string // MANAM_METRICS_ADDR: if set, /metrics is served on this address only, not on the public listener. Default off (public listener).
	DebugAddr   string // MANAM_DEBUG_ADDR: if set, serve Go's pprof on this address (keep it on loopback). Default off.

	// MANAM_SQLITE_MIN_FREE: SQLite only: writes are refused (503, and
	// /readyz 503) while the database's file system has fewer bytes free
	// (a number, or with a KiB, MiB or GiB suffix; 0 never refuses).
	// Default -1: the smaller of 64 MiB and an eighth of the file system.
	SQLiteMinFree int64

	InsecureDebugErrors bool // MANAM_INSECURE_DEBUG_ERRORS: send fosite's debug detail to clients. Development only.

	GoogleClientID     string // MANAM_GOOGLE_CLIENT_ID: enables "Sign in with Google" (with the secret). Default off.
	GoogleClientSecret string // MANAM_GOOGLE_CLIENT_SECRET: environment only.
	GoogleIssuer       string // MANAM_GOOGLE_ISSUER: Google's issuer URL, for a test double or a proxy. Default https://accounts.google.com.
	GoogleHostedDomain string // MANAM_GOOGLE_HOSTED_DOMAIN: only accounts of this Google Workspace domain (the ID token's hd claim). Default any.
	Upstreams          string // MANAM_UPSTREAMS: JSON array of further OpenID Connect upstreams (see upstreamEntry). Default none.

	Throttle throttleConfig // MANAM_THROTTLE_*: every throttle and lockout (throttle.go).

	secretGenerated string // set when the secret was generated: the file it was written to
}

// setting binds one configuration value to its names.
type setting struct {
	flag, env, def, help string
	set                  func(c *Config, v string) error
}

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func dur(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration such as 30s or 1h, got %q", v)
		}
		*dst(c) = d
		return nil
	}
}

func integer(dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want a non-negative integer, got %q", v)
		}
		*dst(c) = n
		return nil
	}
}

// byteSize parses a byte count: a number, optionally with a KiB, MiB or
// GiB suffix; empty is -1 (automatic).
func byteSize(dst func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, raw string) error {
		v := strings.TrimSpace(raw)
		if v == "" {
			*dst(c) = -1
			return nil
		}
		mult := int64(1)
		for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
			if strings.HasSuffix(v, suffix) {
				v, mult = strings.TrimSpace(strings.TrimSuffix(v, suffix)), m
				break
			}
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > (1<<62)/mult {
			return fmt.Errorf("want a byte count such as 67108864 or 64MiB, got %q", raw)
		}
		*dst(c) = n * mult
		return nil
	}
}

// prefixes parses a comma-separated list of CIDRs or single addresses.
func prefixes(dst func(*Config) *[]netip.Prefix) func(*Config, string) error {
	return func(c *Config, v string) error {
		*dst(c) = nil
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			pfx, err := netip.ParsePrefix(f)
			if err != nil {
				if a, aerr := netip.ParseAddr(f); aerr == nil {
					pfx = netip.PrefixFrom(a, a.BitLen())
				} else {
					return fmt.Errorf("%q is not a CIDR or an address", f)
				}
			}
			*dst(c) = append(*dst(c), pfx.Masked())
		}
		return nil
	}
}

func boolean(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*dst(c) = b
		return nil
	}
}

var settings = append([]setting{
	{"issuer", "MANAM_ISSUER", "http://localhost:8080", "issuer URL, exactly as clients see it", str(func(c *Config) *string { return &c.Issuer })},
	{"addr", "MANAM_ADDR", ":8080", "listen address", str(func(c *Config) *string { return &c.Addr })},
	{"dsn", "MANAM_DSN", "sqlite:manam.db", "database: sqlite:PATH or mysql://user:pass@tcp(host:port)/db", str(func(c *Config) *string { return &c.DSN })},
	{"", "MANAM_SECRET", "", "", str(func(c *Config) *string { return &c.Secret })},
	{"smtp-url", "MANAM_SMTP_URL", "log", "smtp://user:pass@host:port, smtps://…, or log", str(func(c *Config) *string { return &c.SMTPURL })},
	{"mail-from", "MANAM_MAIL_FROM", "", "sender address (default no-reply@ + the issuer's host)", str(func(c *Config) *string { return &c.MailFrom })},
	{"sms-url", "MANAM_SMS_URL", "log", "SMS gateway endpoint, or log", str(func(c *Config) *string { return &c.SMSURL })},
	{"sms-method", "MANAM_SMS_METHOD", "POST", "SMS gateway HTTP method", str(func(c *Config) *string { return &c.SMSMethod })},
	{"sms-auth-header", "MANAM_SMS_AUTH_HEADER", "", `SMS gateway auth header, "Name: value"`, str(func(c *Config) *string { return &c.SMSAuthHeader })},
	{"sms-content-type", "MANAM_SMS_CONTENT_TYPE", "application/json", "SMS gateway request content type", str(func(c *Config) *string { return &c.SMSContentType })},
	{"sms-body-template", "MANAM_SMS_BODY_TEMPLATE", "", "SMS gateway body template over .To and .Text", str(func(c *Config) *string { return &c.SMSBody })},
	{"log-level", "MANAM_LOG_LEVEL", "info", "debug, info, warn or error", str(func(c *Config) *string { return &c.LogLevel })},
	{"log-format", "MANAM_LOG_FORMAT", "text", "text or json", str(func(c *Config) *string { return &c.LogFormat })},
	{"key-alg", "MANAM_KEY_ALG", "RS256", "algorithm of new signing keys: RS256 or ES256", str(func(c *Config) *string { return &c.KeyAlg })},
	{"key-refresh", "MANAM_KEY_REFRESH", "30s", "how often signing keys are reloaded", dur(func(c *Config) *time.Duration { return &c.KeyRefresh })},
	{"gc-interval", "MANAM_GC_INTERVAL", "10m", "how often expired rows are swept (0: never)", dur(func(c *Config) *time.Duration { return &c.GCInterval })},
	{"access-token-ttl", "MANAM_ACCESS_TOKEN_TTL", "1h", "access token lifetime", dur(func(c *Config) *time.Duration { return &c.AccessTokenTTL })},
	{"access-token-key-id", "MANAM_ACCESS_TOKEN_KEY_ID", "1", "seal key id of new access tokens (raise by one to rotate; the previous id still opens)", integer(func(c *Config) *int { return &c.AccessTokenKeyID })},
	{"refresh-token-ttl", "MANAM_REFRESH_TOKEN_TTL", "720h", "refresh token lifetime", dur(func(c *Config) *time.Duration { return &c.RefreshTokenTTL })},
	{"id-token-ttl", "MANAM_ID_TOKEN_TTL", "1h", "ID token lifetime", dur(func(c *Config) *time.Duration { return &c.IDTokenTTL })},
	{"auth-code-ttl", "MANAM_AUTH_CODE_TTL", "5m", "authorization code lifetime", dur(func(c *Config) *time.Duration { return &c.AuthCodeTTL })},
	{"argon2-memory-kib", "MANAM_ARGON2_MEMORY_KIB", "19456", "argon2id memory per hash, KiB", integer(func(c *Config) *int { return &c.Argon2MemoryKiB })},
	{"argon2-time", "MANAM_ARGON2_TIME", "2", "argon2id passes", integer(func(c *Config) *int { return &c.Argon2Time })},
	{"argon2-parallelism", "MANAM_ARGON2_PARALLELISM", "1", "argon2id lanes", integer(func(c *Config) *int { return &c.Argon2Parallelism })},
	{"hash-concurrency", "MANAM_HASH_CONCURRENCY", "0", "password hashes computed at once (0: number of CPUs)", integer(func(c *Config) *int { return &c.HashConcurrency })},
	{"default-country-code", "MANAM_DEFAULT_COUNTRY_CODE", "", "country calling code for national mobile numbers, such as +98", str(func(c *Config) *string { return &c.DefaultCountryCode })},
	{"trusted-proxies", "MANAM_TRUSTED_PROXIES", "", "CIDRs of proxies whose X-Forwarded-For is believed", prefixes(func(c *Config) *[]netip.Prefix { return &c.TrustedProxies })},
	{"legacy-trusted-gateways", "MANAM_LEGACY_TRUSTED_GATEWAYS", "", "CIDRs of API gateways whose X-Consumer-ID names the legacy API's tenant", prefixes(func(c *Config) *[]netip.Prefix { return &c.LegacyGateways })},
	{"dialects", "MANAM_DIALECTS", "", `client dialect mounts, JSON: [{"dialect","tenant","prefix"|"host","exist_email"}]`, str(func(c *Config) *string { return &c.Dialects })},
	{"metrics-addr", "MANAM_METRICS_ADDR", "", "serve /metrics on this address only (e.g. 127.0.0.1:9090), not on the public listener", str(func(c *Config) *string { return &c.MetricsAddr })},
	{"debug-addr", "MANAM_DEBUG_ADDR", "", "serve pprof on this address (loopback only)", str(func(c *Config) *string { return &c.DebugAddr })},
	{"sqlite-min-free", "MANAM_SQLITE_MIN_FREE", "", "SQLite: refuse writes while the disk has less free (e.g. 64MiB; 0: never; default: min(64MiB, 1/8 of the disk))", byteSize(func(c *Config) *int64 { return &c.SQLiteMinFree })},
	{"google-client-id", "MANAM_GOOGLE_CLIENT_ID", "", "Google OAuth client id (enables Sign in with Google)", str(func(c *Config) *string { return &c.GoogleClientID })},
	{"", "MANAM_GOOGLE_CLIENT_SECRET", "", "", str(func(c *Config) *string { return &c.GoogleClientSecret })},
	{"google-issuer", "MANAM_GOOGLE_ISSUER", "https://accounts.google.com", "Google's issuer URL (a test double or a proxy)", str(func(c *Config) *string { return &c.GoogleIssuer })},
	{"google-hosted-domain", "MANAM_GOOGLE_HOSTED_DOMAIN", "", "only accounts of this Google Workspace domain", str(func(c *Config) *string { return &c.GoogleHostedDomain })},
	{"upstreams", "MANAM_UPSTREAMS", "", `further OpenID Connect upstreams, JSON: [{"id","name","issuer","client_id","client_secret","scopes"}]`, str(func(c *Config) *string { return &c.Upstreams })},
	{"insecure-debug-errors", "MANAM_INSECURE_DEBUG_ERRORS", "false", "send error debug detail to clients (development only)", boolean(func(c *Config) *bool { return &c.InsecureDebugErrors })},
}, throttleSettings...) // throttle.go

var countryCode = regexp.MustCompile(`^\+?[1-9][0-9]{0,2}$`)

// errUsage marks a problem with how the command was called (exit status 2).
var errUsage = errors.New("usage")

// loadConfig reads settings from the config file, the environment and the
// flags already parsed into fset (flags win), and validates them, listing
// every problem together.
func loadConfig(fset *flag.FlagSet, getenv func(string) string) (*Config, error) {
	values := map[string]string{}
	var errs []error
	file := getenv("MANAM_CONFIG")
	if f := fset.Lookup("config"); f != nil && f.Value.String() != "" {
		file = f.Value.String()
	}
	if file != "" {
		fileVals, err := readConfigFile(file)
		if err != nil {
			errs = append(errs, err)
		}
		for k, v := range fileVals {
			values[k] = v
		}
	}
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			values[s.env] = v
		}
	}
	fset.Visit(func(f *flag.Flag) {
		for _, s := range settings {
			if s.flag == f.Name {
				values[s.env] = f.Value.String()
			}
		}
	})
	c := &Config{}
	for _, s := range settings {
		v, ok := values[s.env]
		if !ok {
			v = s.def
		}
		if err := s.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.env, err))
		}
	}
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: configuration:\n  %w", errUsage, joinIndented(errs))
	}
	return c, nil
}

func joinIndented(errs []error) error {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return errors.New(strings.Join(parts, "\n  "))
}

// readConfigFile reads a JSON object keyed by flag name (or environment name).
func readConfigFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	out := map[string]string{}
	var errs []error
	for k, v := range raw {
		var env string
		for _, s := range settings {
			if k == s.flag || k == s.env {
				env = s.env
			}
		}
		if env == "" {
			errs = append(errs, fmt.Errorf("config file %s: unknown setting %q", path, k))
			continue
		}
		switch v.(type) {
		case []any, map[string]any: // structured settings (MANAM_UPSTREAMS) stay JSON
			b, _ := json.Marshal(v)
			out[env] = string(b)
		default:
			out[env] = fmt.Sprint(v)
		}
	}
	return out, errors.Join(errs...)
}

func (c *Config) validate() []error {
	var errs []error
	p, err := storage.ParseDSN(c.DSN)
	if err != nil {
		errs = append(errs, fmt.Errorf("MANAM_DSN: %w", err))
	}
	if c.Secret != "" && len(c.Secret) < 32 {
		errs = append(errs, errors.New("MANAM_SECRET: must be at least 32 characters (openssl rand -base64 32)"))
	}
	if c.Secret == "" && err == nil && p.Dialect == storage.MySQL {
		errs = append(errs, errors.New("MANAM_SECRET: required with MySQL (every replica must share it)"))
	}
	if strings.HasSuffix(c.Issuer, "/") || !(strings.HasPrefix(c.Issuer, "http://") || strings.HasPrefix(c.Issuer, "https://")) {
		errs = append(errs, fmt.Errorf("MANAM_ISSUER: %q must be an http(s) URL without a trailing slash", c.Issuer))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("MANAM_LOG_LEVEL: %q (want debug, info, warn or error)", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("MANAM_LOG_FORMAT: %q (want text or json)", c.LogFormat))
	}
	if c.KeyAlg != "RS256" && c.KeyAlg != "ES256" {
		errs = append(errs, fmt.Errorf("MANAM_KEY_ALG: %q (want RS256 or ES256)", c.KeyAlg))
	}
	if c.KeyRefresh < time.Second {
		errs = append(errs, errors.New("MANAM_KEY_REFRESH: must be at least 1s"))
	}
	if c.AccessTokenKeyID < 1 || c.AccessTokenKeyID > 999999999 {
		errs = append(errs, errors.New("MANAM_ACCESS_TOKEN_KEY_ID: must be a positive integer"))
	}
	if c.AccessTokenTTL < time.Minute || c.IDTokenTTL < time.Minute || c.RefreshTokenTTL < time.Minute {
		errs = append(errs, errors.New("token lifetimes must be at least 1m"))
	}
	if _, _, err := c.senders(slog.Default()); err != nil {
		errs = append(errs, err)
	}
	if cc := c.DefaultCountryCode; cc != "" && !countryCode.MatchString(cc) {
		errs = append(errs, fmt.Errorf("MANAM_DEFAULT_COUNTRY_CODE: %q is not a country calling code such as +98", cc))
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || !validPort(port) {
		errs = append(errs, fmt.Errorf("MANAM_ADDR: %q must be host:port or :port with a port 0-65535, such as :8080", c.Addr))
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || !validPort(port) {
			errs = append(errs, fmt.Errorf("MANAM_METRICS_ADDR: %q must be host:port, such as 127.0.0.1:9090", c.MetricsAddr))
		} else if c.MetricsAddr == c.Addr {
			errs = append(errs, fmt.Errorf("MANAM_METRICS_ADDR: %q is MANAM_ADDR; leave it unset to serve /metrics there", c.MetricsAddr))
		}
	}
	if c.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.DebugAddr)
		ip := net.ParseIP(host)
		if err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			errs = append(errs, fmt.Errorf("MANAM_DEBUG_ADDR: %q must be a loopback address such as 127.0.0.1:6060 (pprof has no authentication)", c.DebugAddr))
		}
	}
	if c.AuthCodeTTL < time.Second || c.AuthCodeTTL > 10*time.Minute {
		errs = append(errs, errors.New("MANAM_AUTH_CODE_TTL: between 1s and 10m (RFC 6749 §4.1.2)"))
	}
	if _, err := c.upstreamConfigs(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.dialectConfigs(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.Throttle.validate()...)
	if c.Argon2MemoryKiB < 8192 || c.Argon2Time < 1 || c.Argon2Parallelism < 1 || c.Argon2Parallelism > 255 {
		errs = append(errs, errors.New("argon2id: memory ≥ 8192 KiB, time ≥ 1, parallelism 1..255"))
	}
	return errs
}

// validPort tells whether p is a decimal port number, 0 to 65535.
func validPort(p string) bool {
	_, err := strconv.ParseUint(p, 10, 16) // no sign, no name ("http")
	return err == nil
}

// logger builds the process logger from the config.
func (c *Config) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(requestIDHandler{slog.NewJSONHandler(w, opts)})
	}
	return slog.New(requestIDHandler{slog.NewTextHandler(w, opts)})
}

// resolveSecret returns the system secret: MANAM_SECRET, or (SQLite only)
// the one kept beside the database file, generated on first use.
func (c *Config) resolveSecret() ([]byte, error) {
	if c.Secret != "" {
		return []byte(c.Secret), nil
	}
	p, err := storage.ParseDSN(c.DSN)
	if err != nil {
		return nil, err
	}
	path := p.Path + ".secret"
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, fmt.Errorf("%s: secret shorter than 32 characters", path)
		}
		return []byte(s), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	s := base64.RawURLEncoding.EncodeToString(raw)
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("writing secret: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process won the race: use its secret.
		return c.resolveSecret()
	}
	if err != nil {
		return nil, fmt.Errorf("writing secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing secret: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing secret: %w", err)
	}
	c.secretGenerated = path
	return []byte(s), nil
}

// mailFrom is the configured sender, or no-reply@ the issuer's host.
func (c *Config) mailFrom() string {
	if c.MailFrom != "" {
		return c.MailFrom
	}
	host := strings.TrimPrefix(strings.TrimPrefix(c.Issuer, "https://"), "http://")
	host, _, _ = strings.Cut(host, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return "no-reply@" + host
}

// senders builds the mail and SMS senders the configuration names.
func (c *Config) senders(log *slog.Logger) (delivery.MailSender, delivery.SMSSender, error) {
	var errs []error
	var mail delivery.MailSender = delivery.LogMailer{Log: log}
	if c.SMTPURL != "log" {
		s, err := delivery.NewSMTP(c.SMTPURL, delivery.SMTPOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("MANAM_SMTP_URL: %w", err))
		}
		mail = s
	}
	if _, err := nmail.ParseAddress(c.mailFrom()); err != nil {
		errs = append(errs, fmt.Errorf("MANAM_MAIL_FROM: %q is not an address", c.mailFrom()))
	}
	var sms delivery.SMSSender = delivery.LogSMS{Log: log}
	if c.SMSURL != "log" {
		g, err := delivery.NewGateway(delivery.GatewayOptions{URL: c.SMSURL, Method: c.SMSMethod, AuthHeader: c.SMSAuthHeader,
			ContentType: c.SMSContentType, BodyTemplate: c.SMSBody})
		if err != nil {
			errs = append(errs, fmt.Errorf("MANAM_SMS_URL: %w", err))
		}
		sms = g
	}
	return mail, sms, errors.Join(errs...)
}
