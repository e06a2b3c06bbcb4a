package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/keys"
	"github.com/manam-id/manam/provider"
	"github.com/manam-id/manam/storage"
)

const usage = `manam — an OpenID Connect identity provider

Usage:
  manam [serve]                       run the server (default)
  manam migrate                       apply database migrations
  manam gc                            delete expired codes, tokens, sessions and keys
  manam tenant create --name N --redirect-uri U [--redirect-uri U]... [--post-logout-redirect-uri U]...
                      [--public] [--grant g1,g2] [--scope s1,s2] [--first-party] [--access-token opaque|jwt]
                      [--confirm-url U] [--sender ADDR] [--allow-unconfirmed] [--require-mfa] [--mfa-confirm-email]
                      [--refresh-grace DURATION] [--backend-cidr CIDR]... [--id-token-alg RS256|ES256] [--json]
  manam tenant list [--json]
  manam tenant show ID [--json]
  manam tenant update ID [the create flags to change] [--confidential] [--third-party] [--json]
  manam tenant delete ID [--json]
  manam tenant rotate-secret ID [--json]
  manam user create --email E --password P | --password-env VAR [--name N] [--json]
  manam user import FILE [--json]     accounts from JSON lines: {"email","email_verified","password_hash","name"}
  manam keys list [--json]
  manam keys rotate [--alg RS256|ES256] [--now] [--json]
                                      new key, published at once, signing after 2 × MANAM_KEY_REFRESH
                                      (--now: signing at once, for a compromised key; see README.md)
  manam healthcheck                   exit 0 when the local server is ready (for container healthchecks)

Every command reads the MANAM_* environment variables (see README.md); the
flags --issuer, --addr, --dsn, --config and the other settings override them.
`

// listFlag collects a repeatable flag; commas separate values too.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// cmdEnv is what a subcommand works with.
type cmdEnv struct {
	ctx    context.Context
	getenv func(string) string
	out    io.Writer
	errw   io.Writer
}

// run executes one command line and returns the exit status: 0 success,
// 1 failure, 2 bad usage or configuration.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	e := &cmdEnv{ctx: ctx, getenv: getenv, out: stdout, errw: stderr}
	err := e.dispatch(args)
	if err == nil || errors.Is(err, errHelped) {
		return 0
	}
	fmt.Fprintln(stderr, "manam:", strings.TrimPrefix(err.Error(), "usage: "))
	if errors.Is(err, errUsage) || errors.Is(err, provider.ErrInvalidTenant) || errors.Is(err, idp.ErrInvalidInput) {
		return 2
	}
	return 1
}

// commands are manam's subcommands (the usage text above lists their flags).
var commands = []struct {
	name string
	run  func(*cmdEnv, []string) error
}{
	{"serve", (*cmdEnv).serve},
	{"migrate", (*cmdEnv).migrate},
	{"gc", (*cmdEnv).gc},
	{"tenant", (*cmdEnv).tenant},
	{"user", (*cmdEnv).user},
	{"keys", (*cmdEnv).keysCmd},
	{"healthcheck", (*cmdEnv).healthcheck},
}

func (e *cmdEnv) dispatch(args []string) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" || len(args) > 0 && cmd == "serve" && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(e.out, usage)
		return nil
	}
	for _, c := range commands {
		if c.name == cmd {
			return c.run(e, args)
		}
	}
	return fmt.Errorf("%w: unknown command %q (see manam help)", errUsage, cmd)
}

// newFlags is a flag set with every setting's flag and --config.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("config", "", "JSON config file")
	for _, s := range settings {
		if s.flag != "" {
			fs.String(s.flag, s.def, s.help)
		}
	}
	return fs
}

// parse parses flags anywhere among the arguments and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", errUsage, fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parse is parse, where -h or --help prints the command's flags (errHelped).
func (e *cmdEnv) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(e.out, "Usage of manam %s (every MANAM_* setting also has its flag):\n", fs.Name())
		fs.SetOutput(e.out)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return nil, errHelped
	}
	return pos, err
}

// errHelped: -h printed a command's flags; nothing more to do.
var errHelped = errors.New("help printed")

// open loads the configuration and opens the app.
func (e *cmdEnv) open(fs *flag.FlagSet) (*app, error) {
	cfg, err := loadConfig(fs, e.getenv)
	if err != nil {
		return nil, err
	}
	return openApp(e.ctx, cfg, cfg.logger(e.errw))
}

// withApp opens the app with the configuration fs and the environment
// give, runs fn with it, and closes it.
func (e *cmdEnv) withApp(fs *flag.FlagSet, fn func(a *app) error) error {
	a, err := e.open(fs)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(a)
}

// noArgs parses a command that takes flags only.
func (e *cmdEnv) noArgs(fs *flag.FlagSet, args []string) error {
	pos, err := e.parse(fs, args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("%w: %s: unexpected arguments %q", errUsage, fs.Name(), pos)
	}
	return err
}

func (e *cmdEnv) serve(args []string) error {
	fs := newFlags("serve")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, e.getenv)
	if err != nil {
		return err
	}
	return serve(e.ctx, cfg, cfg.logger(e.errw), nil)
}

func (e *cmdEnv) migrate(args []string) error {
	fs := newFlags("migrate")
	if err := e.noArgs(fs, args); err != nil {
		return err
	}
	return e.withApp(fs, func(a *app) error {
		v, err := a.db.CurrentVersion(e.ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.out, "schema at version %d\n", v)
		return nil
	})
}

func (e *cmdEnv) gc(args []string) error {
	fs := newFlags("gc")
	if err := e.noArgs(fs, args); err != nil {
		return err
	}
	return e.withApp(fs, func(a *app) error {
		km, err := a.keys(e.ctx)
		if err != nil {
			return err
		}
		n, err := a.sweep(e.ctx, provider.NewStore(a.db), km)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.out, "deleted %d expired rows\n", n)
		return nil
	})
}

// printJSON writes one JSON value.
func (e *cmdEnv) printJSON(v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows aligned in columns.
func (e *cmdEnv) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

type tenantFlags struct {
	name, accessToken, confirmURL, mailFrom, idTokenAlg  *string
	allowUnconfirmed, requireMFA, mfaConfirmEmail        *bool
	redirect, postLogout, grant, scope, backendCIDR      listFlag
	public, firstParty, confidential, thirdParty, asJSON *bool
	refreshGrace                                         graceFlag
}

// graceFlag is --refresh-grace: a duration in whole seconds.
type graceFlag struct{ seconds int }

func (g *graceFlag) String() string {
	return (time.Duration(g.seconds) * time.Second).String()
}

func (g *graceFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d%time.Second != 0 {
		return fmt.Errorf("want a duration in whole seconds, such as 10s (at most %s)", storage.MaxRefreshGrace)
	}
	g.seconds = int(d / time.Second)
	return nil
}

func addTenantFlags(fs *flag.FlagSet) *tenantFlags {
	t := &tenantFlags{}
	t.name = fs.String("name", "", "display name")
	t.accessToken = fs.String("access-token", "", "opaque or jwt")
	fs.Var(&t.redirect, "redirect-uri", "redirect URI (repeatable)")
	fs.Var(&t.postLogout, "post-logout-redirect-uri", "post-logout redirect URI (repeatable)")
	fs.Var(&t.grant, "grant", "grant types, comma-separated")
	fs.Var(&t.scope, "scope", "allowed scopes, comma-separated")
	t.public = fs.Bool("public", false, "public client (no secret, PKCE required)")
	t.firstParty = fs.Bool("first-party", false, "skip the consent page")
	t.confidential = fs.Bool("confidential", false, "make a public client confidential (update)")
	t.thirdParty = fs.Bool("third-party", false, "show the consent page again (update)")
	t.asJSON = fs.Bool("json", false, "print JSON")
	t.confirmURL = fs.String("confirm-url", "", "the tenant's own confirmation page (the token goes in {token}, or a cnf parameter)")
	t.mailFrom = fs.String("sender", "", "sender of the tenant's mail, e.g. \"Acme <no-reply@acme.example>\"")
	t.allowUnconfirmed = fs.Bool("allow-unconfirmed", false, "members may sign in before confirming their address")
	t.requireMFA = fs.Bool("require-mfa", false, "every sign-in through the tenant needs a second factor")
	t.mfaConfirmEmail = fs.Bool("mfa-confirm-email", false, "enrolling a second factor first re-confirms the e-mail address")
	fs.Var(&t.refreshGrace, "refresh-grace", "for this long (whole seconds, at most 60s) after a rotation the rotated refresh token returns the same successor instead of counting as reuse")
	t.idTokenAlg = fs.String("id-token-alg", "", "algorithm of the tenant's ID tokens: RS256 (default) or ES256")
	fs.Var(&t.backendCIDR, "backend-cidr", "the tenant's own servers calling the APIs (repeatable; throttled per end user; '' clears)")
	return t
}

func tenantView(t *storage.Tenant) map[string]any {
	return map[string]any{
		"client_id": t.ID, "name": t.Name, "customer_token": t.CustomerToken, "public": t.Public, "first_party": t.FirstParty,
		"redirect_uris": t.RedirectURIs, "post_logout_redirect_uris": t.PostLogoutRedirectURIs, "grant_types": t.GrantTypes,
		"scopes": t.Scopes, "access_token": t.AccessTokenFormat, "created_at": t.CreatedAt.Format(time.RFC3339),
		"confirm_url": t.ConfirmURL, "sender": t.MailFrom, "allow_unconfirmed": t.AllowUnconfirmed, "require_mfa": t.RequireMFA,
		"mfa_confirm_email": t.MFAConfirmEmail, "refresh_grace": (time.Duration(t.RefreshGraceSeconds) * time.Second).String(), "backend_cidrs": t.BackendCIDRs,
		"id_token_alg": t.IDTokenAlg,
	}
}

func (e *cmdEnv) tenant(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: tenant needs create, list, show, update, delete or rotate-secret", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlags("tenant " + sub)
	tf := addTenantFlags(fs)
	pos, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	needID := sub == "show" || sub == "update" || sub == "delete" || sub == "rotate-secret"
	if needID && len(pos) != 1 || !needID && len(pos) != 0 {
		return fmt.Errorf("%w: tenant %s: unexpected arguments %q", errUsage, sub, pos)
	}
	return e.withApp(fs, func(a *app) error { return e.tenantOn(a, sub, tf, fs, pos) })
}

// tenantOn runs a tenant subcommand on the open app.
func (e *cmdEnv) tenantOn(a *app, sub string, tf *tenantFlags, fs *flag.FlagSet, pos []string) error {
	adm := provider.NewAdmin(a.db, a.secret)
	ctx := e.ctx
	switch sub {
	case "create":
		c, err := adm.Create(ctx, provider.TenantSpec{
			Name: *tf.name, RedirectURIs: tf.redirect, PostLogoutRedirectURIs: tf.postLogout, Public: *tf.public,
			GrantTypes: tf.grant, Scopes: tf.scope, FirstParty: *tf.firstParty, AccessToken: *tf.accessToken,
			TenantSettings: storage.TenantSettings{ConfirmURL: *tf.confirmURL, MailFrom: *tf.mailFrom, AllowUnconfirmed: *tf.allowUnconfirmed,
				RequireMFA: *tf.requireMFA, MFAConfirmEmail: *tf.mfaConfirmEmail, RefreshGraceSeconds: tf.refreshGrace.seconds,
				BackendCIDRs: tf.backendCIDR, IDTokenAlg: *tf.idTokenAlg},
		})
		if err != nil {
			return err
		}
		if *tf.asJSON {
			return e.printJSON(c)
		}
		rows := [][]string{{"client_id", c.ClientID}, {"customer_token", c.CustomerToken}}
		if c.ClientSecret != "" {
			rows = append(rows, []string{"client_secret", c.ClientSecret + "   (shown once: store it now)"})
		}
		return e.table([]string{"FIELD", "VALUE"}, rows)
	case "list":
		ts, err := adm.List(ctx)
		if err != nil {
			return err
		}
		if *tf.asJSON {
			out := make([]map[string]any, 0, len(ts))
			for i := range ts {
				out = append(out, tenantView(&ts[i]))
			}
			return e.printJSON(out)
		}
		var rows [][]string
		for _, t := range ts {
			kind := "confidential"
			if t.Public {
				kind = "public"
			}
			rows = append(rows, []string{t.ID, t.Name, kind, strings.Join(t.GrantTypes, ","), t.CustomerToken})
		}
		return e.table([]string{"CLIENT_ID", "NAME", "TYPE", "GRANTS", "CUSTOMER_TOKEN"}, rows)
	case "show":
		t, err := adm.Get(ctx, pos[0])
		if err != nil {
			return notFound(err, pos[0])
		}
		if *tf.asJSON {
			return e.printJSON(tenantView(t))
		}
		var rows [][]string
		for k, v := range tenantView(t) {
			rows = append(rows, []string{k, fmt.Sprint(v)})
		}
		sortRows(rows)
		return e.table([]string{"FIELD", "VALUE"}, rows)
	case "update":
		return e.tenantUpdate(adm, tf, fs, pos[0])
	case "delete":
		if err := adm.Delete(ctx, pos[0]); err != nil {
			return notFound(err, pos[0])
		}
		if *tf.asJSON {
			return e.printJSON(map[string]any{"client_id": pos[0], "deleted": true})
		}
		fmt.Fprintf(e.out, "tenant %s deleted, with its tokens and consents\n", pos[0])
		return nil
	case "rotate-secret":
		s, err := adm.RotateSecret(ctx, pos[0])
		if err != nil {
			return notFound(err, pos[0])
		}
		if *tf.asJSON {
			return e.printJSON(map[string]string{"client_id": pos[0], "client_secret": s})
		}
		fmt.Fprintf(e.out, "client_secret %s   (shown once: the old secret no longer works)\n", s)
		return nil
	default:
		return fmt.Errorf("%w: unknown tenant command %q", errUsage, sub)
	}
}

// tenantUpdate changes the settings given as flags of tenant id.
func (e *cmdEnv) tenantUpdate(adm *provider.Admin, tf *tenantFlags, fs *flag.FlagSet, id string) error {
	ctx := e.ctx
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	secret, err := adm.Update(ctx, id, func(s *provider.TenantSpec) {
		if set["name"] {
			s.Name = *tf.name
		}
		if set["redirect-uri"] {
			s.RedirectURIs = tf.redirect
		}
		if set["post-logout-redirect-uri"] {
			s.PostLogoutRedirectURIs = tf.postLogout
		}
		if set["grant"] {
			s.GrantTypes = tf.grant
		}
		if set["scope"] {
			s.Scopes = tf.scope
		}
		if set["access-token"] {
			s.AccessToken = *tf.accessToken
		}
		if set["public"] {
			s.Public = *tf.public
		}
		if set["confidential"] && *tf.confidential {
			s.Public = false
		}
		if set["first-party"] {
			s.FirstParty = *tf.firstParty
		}
		if set["third-party"] && *tf.thirdParty {
			s.FirstParty = false
		}
		if set["confirm-url"] {
			s.ConfirmURL = *tf.confirmURL
		}
		if set["sender"] {
			s.MailFrom = *tf.mailFrom
		}
		if set["allow-unconfirmed"] {
			s.AllowUnconfirmed = *tf.allowUnconfirmed
		}
		if set["require-mfa"] {
			s.RequireMFA = *tf.requireMFA
		}
		if set["mfa-confirm-email"] {
			s.MFAConfirmEmail = *tf.mfaConfirmEmail
		}
		if set["refresh-grace"] {
			s.RefreshGraceSeconds = tf.refreshGrace.seconds
		}
		if set["backend-cidr"] {
			s.BackendCIDRs = tf.backendCIDR
		}
		if set["id-token-alg"] {
			s.IDTokenAlg = *tf.idTokenAlg
		}
	})
	if err != nil {
		return notFound(err, id)
	}
	out := map[string]any{"client_id": id, "updated": true}
	if secret != "" {
		out["client_secret"] = secret
	}
	if *tf.asJSON {
		return e.printJSON(out)
	}
	fmt.Fprintf(e.out, "tenant %s updated\n", id)
	if secret != "" {
		fmt.Fprintf(e.out, "client_secret %s   (shown once: store it now)\n", secret)
	}
	return nil
}

func notFound(err error, id string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: no tenant %q", errUsage, id)
	}
	return err
}

func sortRows(rows [][]string) {
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
}

func (e *cmdEnv) user(args []string) error {
	if len(args) > 0 && args[0] == "import" {
		return e.userImport(args[1:])
	}
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("%w: user needs create or import", errUsage)
	}
	fs := newFlags("user create")
	email := fs.String("email", "", "e-mail address")
	mobile := fs.String("mobile", "", "mobile number (international, or national with MANAM_DEFAULT_COUNTRY_CODE)")
	password := fs.String("password", "", "password (8 to 128 characters); visible to other users in the process list: prefer --password-env")
	passwordEnv := fs.String("password-env", "", "read the password from this environment variable")
	name := fs.String("name", "", "display name")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := e.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: user create: unexpected arguments %q", errUsage, pos)
	}
	if *passwordEnv != "" {
		if *password != "" {
			return fmt.Errorf("%w: user create: --password and --password-env both given", errUsage)
		}
		if *password = e.getenv(*passwordEnv); *password == "" {
			return fmt.Errorf("%w: user create: the environment variable %s is empty or unset", errUsage, *passwordEnv)
		}
	}
	return e.withApp(fs, func(a *app) error {
		return e.userCreate(a, idp.NewAccount{Email: *email, Mobile: *mobile, MobileSeed: a.cfg.DefaultCountryCode,
			Password: *password, Name: *name, EmailVerified: true, MobileVerified: true}, *asJSON)
	})
}

// userCreate creates an account (confirmed) on the open app.
func (e *cmdEnv) userCreate(a *app, in idp.NewAccount, asJSON bool) error {
	svc, err := a.idp(nil)
	if err != nil {
		return err
	}
	acct, err := svc.CreateAccount(e.ctx, in)
	if errors.Is(err, idp.ErrExists) {
		return fmt.Errorf("%w: an account with that e-mail or mobile number exists", errUsage)
	}
	if err != nil {
		return err
	}
	out := map[string]any{"id": acct.ID}
	who := []string{}
	if acct.Email != nil {
		out["email"], out["email_verified"] = *acct.Email, acct.EmailVerified
		who = append(who, *acct.Email)
	}
	if acct.Mobile != nil {
		out["mobile"], out["mobile_verified"] = *acct.Mobile, acct.MobileVerified
		who = append(who, *acct.Mobile)
	}
	if asJSON {
		return e.printJSON(out)
	}
	fmt.Fprintf(e.out, "account %s created for %s (confirmed)\n", acct.ID, strings.Join(who, " and "))
	return nil
}

func (e *cmdEnv) keysCmd(args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "rotate") {
		return fmt.Errorf("%w: keys needs list or rotate", errUsage)
	}
	sub := args[0]
	fs := newFlags("keys " + sub)
	alg := fs.String("alg", "", "RS256 or ES256 (rotate)")
	now := fs.Bool("now", false, "sign with the new key at once instead of after the propagation delay (rotate; emergencies)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := e.parse(fs, args[1:]); err != nil {
		return err
	}
	if sub != "rotate" && (*alg != "" || *now) {
		return fmt.Errorf("%w: --alg and --now are for keys rotate", errUsage)
	}
	return e.withApp(fs, func(a *app) error { return e.keysOn(a, sub, *alg, *now, *asJSON) })
}

// keysOn runs a keys subcommand on the open app.
func (e *cmdEnv) keysOn(a *app, sub, alg string, now, asJSON bool) error {
	km, err := a.keys(e.ctx)
	if err != nil {
		return err
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	if sub == "rotate" {
		if alg != "" && alg != "RS256" && alg != "ES256" {
			return fmt.Errorf("%w: --alg must be RS256 or ES256", errUsage)
		}
		rotate := km.Rotate
		if now {
			rotate = km.RotateNow
		}
		k, err := rotate(e.ctx, alg)
		if err != nil {
			return err
		}
		retainedUntil := k.CreatedAt.Add(km.Retention())
		if asJSON {
			return e.printJSON(map[string]any{"kid": k.KID, "alg": k.Alg, "state": km.State(k),
				"activates_at": stamp(k.ActivatesAt), "previous_published_until": stamp(retainedUntil)})
		}
		if now {
			fmt.Fprintf(e.out, "new active key %s (%s); running servers use it within %s (--now: they sign with the previous key until they reload)\n",
				k.KID, k.Alg, a.cfg.KeyRefresh)
		} else {
			fmt.Fprintf(e.out, "new active key %s (%s); running servers use it within %s, at %s (published now, signing from then)\n",
				k.KID, k.Alg, km.Options().PropagationDelay, stamp(k.ActivatesAt))
		}
		fmt.Fprintf(e.out, "previous keys stay published until at least %s\n", stamp(retainedUntil))
		return nil
	}
	type row struct {
		KID          string  `json:"kid"`
		Alg          string  `json:"alg"`
		State        string  `json:"state"` // pending, active or retired
		Active       bool    `json:"active"`
		CreatedAt    string  `json:"created_at"`
		ActivatesAt  string  `json:"activates_at"`
		RetiredAt    *string `json:"retired_at"`    // null: signing until the next rotation
		PublishUntil *string `json:"publish_until"` // null: published until retired
	}
	out := []row{}
	for _, k := range km.All() {
		st := km.State(k)
		r := row{KID: k.KID, Alg: k.Alg, State: st, Active: st == keys.Active,
			CreatedAt: stamp(k.CreatedAt), ActivatesAt: stamp(k.ActivatesAt)}
		if k.RetiredAt != nil {
			v := stamp(*k.RetiredAt)
			r.RetiredAt = &v
		}
		if k.PublishUntil != nil {
			v := stamp(*k.PublishUntil)
			r.PublishUntil = &v
		}
		out = append(out, r)
	}
	if asJSON {
		return e.printJSON(out)
	}
	var rows [][]string
	for _, r := range out {
		until := "-"
		if r.PublishUntil != nil {
			until = *r.PublishUntil
		}
		rows = append(rows, []string{r.KID, r.Alg, r.State, r.CreatedAt, r.ActivatesAt, until})
	}
	return e.table([]string{"KID", "ALG", "STATE", "CREATED", "ACTIVATES", "PUBLISHED UNTIL"}, rows)
}

// healthcheck asks the server on MANAM_ADDR (on loopback) whether it is ready.
func (e *cmdEnv) healthcheck(args []string) error {
	fs := newFlags("healthcheck")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, e.getenv)
	if err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("%w: MANAM_ADDR %q: %v", errUsage, cfg.Addr, err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: status %d", resp.StatusCode)
	}
	fmt.Fprintln(e.out, "ready")
	return nil
}

// userImport loads accounts from JSON lines (FILE, or - for standard input).
// Each line is imported on its own: a bad line is reported with its number
// and writes nothing; the others go in. Exit status 1 when any line failed.
func (e *cmdEnv) userImport(args []string) error {
	fs := newFlags("user import")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := e.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: user import needs one FILE (or -)", errUsage)
	}
	in := io.Reader(os.Stdin)
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		defer f.Close()
		in = f
	}
	return e.withApp(fs, func(a *app) error { return e.importFrom(a, in, pos[0], *asJSON) })
}

// importFrom imports the JSON lines of in on the open app.
func (e *cmdEnv) importFrom(a *app, in io.Reader, name string, asJSON bool) error {
	svc, err := a.idp(nil)
	if err != nil {
		return err
	}
	type failure struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	}
	var failed []failure
	imported := 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var rec idp.ImportedAccount
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields() // a field we cannot keep must not vanish silently
		if err := dec.Decode(&rec); err != nil {
			failed = append(failed, failure{n, "not a JSON object of the expected fields: " + err.Error()})
			continue
		}
		if _, err := svc.ImportAccount(e.ctx, rec); err != nil {
			msg := err.Error()
			var fe idp.FieldErrors
			switch {
			case errors.As(err, &fe):
				msg = strings.TrimPrefix(fe.Error(), "idp: invalid input: ")
			case errors.Is(err, idp.ErrExists):
				msg = "an account with this e-mail already exists"
			}
			failed = append(failed, failure{n, msg})
			continue
		}
		imported++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if asJSON {
		if failed == nil {
			failed = []failure{}
		}
		if err := e.printJSON(map[string]any{"imported": imported, "failed": failed}); err != nil {
			return err
		}
	} else {
		for _, f := range failed {
			fmt.Fprintf(e.errw, "line %d: %s\n", f.Line, f.Error)
		}
		fmt.Fprintf(e.out, "imported %d accounts, %d lines failed\n", imported, len(failed))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d lines failed", len(failed), len(failed)+imported)
	}
	return nil
}
