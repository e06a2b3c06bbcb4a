package clientapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/manam-id/manam/idp/i18n"
	"github.com/manam-id/manam/storage"
)

// Call is one request as a handler sees it: its parameters, language,
// tenant, and the prefix it came in under.
type Call struct {
	*Params
	Lang   i18n.Lang
	Tenant *storage.Tenant // nil for an endpoint that needs none
	Prefix string          // the Table prefix the request came in under
}

// Handler serves one endpoint; the error it returns goes to Table.Fail.
type Handler func(w http.ResponseWriter, r *http.Request, c *Call) error

// Endpoint is one documented operation at every documented spelling of
// its path.
type Endpoint struct {
	Methods []string
	Paths   []string
	Handle  Handler
	// NoTenant: the endpoint needs no tenant (Table.Tenant is not asked).
	NoTenant bool
	// JSONOnly refuses a body not declared as JSON (Rules.JSONOnly).
	JSONOnly bool
	// Root serves the paths at the root only, not under each prefix.
	Root bool
}

// Table is a dialect's endpoints and what every request to them shares.
type Table struct {
	Endpoints []Endpoint
	// Prefixes are where the documented paths start ("" for the root;
	// none: the root only); Host, when set, mounts them on that Host
	// header alone.
	Prefixes []string
	Host     string
	// Rules say how the documents send parameters.
	Rules Rules
	// CORS, when set, runs first on every request and answers a preflight
	// itself (true); OPTIONS is then among every path's methods.
	CORS func(w http.ResponseWriter, r *http.Request) bool
	// Tenant finds a request's tenant (its parameters read).
	Tenant func(r *http.Request, c *Call) (*storage.Tenant, error)
	// Fail writes every failure in the dialect's shape (see Classify).
	Fail func(w http.ResponseWriter, r *http.Request, c *Call, err error)
}

// route is one path and the endpoints that serve it (by method).
type route struct {
	path, prefix string
	eps          []Endpoint
}

// Mount adds every path, each once, in the table's order (a fixed path
// before a pattern that would match it too). A path takes every method,
// so that a wrong one is answered in the dialect's shape (405, with
// Allow) rather than the router's.
func (t Table) Mount(r *mux.Router) {
	if t.Host != "" {
		r = r.Host(t.Host).Subrouter()
	}
	prefixes := t.Prefixes
	if len(prefixes) == 0 {
		prefixes = []string{""}
	}
	var routes []*route
	byPath := map[string]*route{}
	for i, prefix := range prefixes {
		for _, ep := range t.Endpoints {
			if ep.Root && i > 0 {
				continue
			}
			at := prefix
			if ep.Root {
				at = ""
			}
			for _, p := range ep.Paths {
				rt := byPath[at+p]
				if rt == nil {
					rt = &route{path: at + p, prefix: at}
					byPath[rt.path] = rt
					routes = append(routes, rt)
				}
				rt.eps = append(rt.eps, ep)
			}
		}
	}
	for _, rt := range routes {
		r.Handle(rt.path, t.serve(rt))
	}
}

// serve reads the call (language, method, parameters, tenant), runs the
// endpoint's handler, and hands any error to Fail.
func (t Table) serve(rt *route) http.Handler {
	var allowed []string
	for _, ep := range rt.eps {
		for _, m := range ep.Methods {
			if !slices.Contains(allowed, m) {
				allowed = append(allowed, m)
			}
		}
	}
	allow := slices.Clone(allowed)
	if t.CORS != nil {
		allow = append(allow, http.MethodOptions)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t.CORS != nil && t.CORS(w, r) {
			return
		}
		c := &Call{Params: &Params{body: map[string]any{}}, Lang: i18n.Choose("", r.Header.Get("Accept-Language")), Prefix: rt.prefix}
		i := slices.IndexFunc(rt.eps, func(ep Endpoint) bool { return slices.Contains(ep.Methods, r.Method) })
		if i < 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			t.Fail(w, r, c, &MethodError{Allowed: allowed})
			return
		}
		ep := rt.eps[i]
		rules := t.Rules
		rules.JSONOnly = rules.JSONOnly || ep.JSONOnly
		p, err := Read(r, rules)
		if err != nil {
			t.Fail(w, r, c, err)
			return
		}
		c.Params = p
		if !ep.NoTenant && t.Tenant != nil {
			if c.Tenant, err = t.Tenant(r, c); err != nil {
				t.Fail(w, r, c, err)
				return
			}
		}
		if err := ep.Handle(w, r, c); err != nil {
			t.Fail(w, r, c, err)
		}
	})
}
