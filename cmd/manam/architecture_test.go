package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/manam-id/manam/"

// importRules are the arrows of ../shared/ARCHITECTURE.md, written once:
// for each package of ours (a path, or a prefix ending in "/..."), the
// packages of ours it may import. cmd/... may import anything; nothing may
// import cmd/.... A package not listed here fails the test: place it.
var importRules = []struct {
	pkg   string
	may   []string
	notes string
}{
	{"storage", nil, "imports nothing of ours"},
	{"storage/storagetest", []string{"storage"}, ""},
	{"upstream", nil, "a leaf: connectors know no accounts"},
	{"upstream/upstreamtest", []string{"upstream"}, ""},
	{"keys", []string{"storage"}, ""},
	{"idp/i18n", nil, ""},
	{"idp/mfa", nil, ""},
	{"idp/delivery", []string{"storage"}, ""},
	{"idp/delivery/deliverytest", []string{"idp/delivery", "storage"}, ""},
	{"idp", []string{"idp/i18n", "idp/mfa", "idp/delivery", "storage", "upstream"}, "the core: no pages"},
	{"idp/pages", []string{"idp", "idp/i18n", "idp/mfa", "storage", "upstream"}, ""},
	{"provider", []string{"idp", "idp/...", "keys", "storage", "upstream"}, "the OAuth core does not know the dialects"},
	{"provider/internal/clientapi", []string{"provider", "idp", "idp/i18n", "idp/mfa", "storage"}, "the machinery the dialects share"},
	{"provider/legacy", []string{"provider", "provider/internal/clientapi", "idp", "idp/i18n", "idp/mfa", "storage"}, "a thin translation"},
	{"provider/dialects", []string{"provider", "provider/internal/clientapi", "idp", "idp/i18n", "idp/mfa", "storage"}, "a thin translation"},
	{"admin", []string{"idp", "idp/...", "provider", "keys", "storage"}, "the admin API"},
	{"cmd/...", []string{"..."}, "the assembly"},
}

// forbiddenStd are standard or third-party imports a package of ours must
// not have: the idp core has no HTTP and no gorm (ARCHITECTURE.md).
var forbiddenStd = map[string][]string{
	"idp": {"net/http", "gorm.io/"},
}

func allowedBy(patterns []string, imp string) bool {
	for _, p := range patterns {
		if p == "..." || p == imp || strings.HasSuffix(p, "/...") && (imp == strings.TrimSuffix(p, "/...") || strings.HasPrefix(imp, strings.TrimSuffix(p, "..."))) {
			return true
		}
	}
	return false
}

func ruleOf(pkg string) (may []string, ok bool) {
	for _, r := range importRules {
		if r.pkg == pkg || strings.HasSuffix(r.pkg, "/...") && strings.HasPrefix(pkg+"/", strings.TrimSuffix(r.pkg, "...")) {
			return r.may, true
		}
	}
	return nil, false
}

// TestImportRules checks every package's imports (tests' imports too,
// except for cmd) against importRules, so the house's arrows cannot drift.
func TestImportRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .TestImports \" \"}}", "github.com/manam-id/manam/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := 0
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "|")
		if len(parts) != 3 {
			continue
		}
		pkg := strings.TrimPrefix(parts[0], module)
		seen++
		may, ok := ruleOf(pkg)
		if !ok {
			t.Errorf("package %s has no import rule: add it to importRules (and to ARCHITECTURE.md's picture)", pkg)
			continue
		}
		for i, imps := range parts[1:] {
			for _, imp := range strings.Fields(imps) {
				checkImport(t, pkg, imp, may, i == 1)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list saw %d packages", seen)
	}
}

// checkImport checks one import of pkg. A test may also import the test
// helpers (a "…test" sub-package) of what the package may import.
func checkImport(t *testing.T, pkg, imp string, may []string, test bool) {
	t.Helper()
	for _, bad := range forbiddenStd[pkg] {
		if !test && (imp == bad || strings.HasSuffix(bad, "/") && strings.HasPrefix(imp, bad)) {
			t.Errorf("%s imports %s, which it must not", pkg, imp)
		}
	}
	if !strings.HasPrefix(imp, module) {
		return
	}
	imp = strings.TrimPrefix(imp, module)
	helper := strings.HasSuffix(imp, "test") && (path.Dir(imp) == pkg || allowedBy(may, path.Dir(imp)))
	switch {
	case imp == pkg, test && helper:
	case strings.HasPrefix(imp, "cmd/") && !strings.HasPrefix(pkg, "cmd/"):
		t.Errorf("%s imports %s: nothing imports cmd", pkg, imp)
	case !allowedBy(may, imp):
		t.Errorf("%s imports %s: not an allowed arrow (may import %s)", pkg, imp, strings.Join(may, ", "))
	}
}

// TestImportRulesCatch: the rules refuse the arrows ARCHITECTURE.md forbids.
func TestImportRulesCatch(t *testing.T) {
	cases := []struct {
		name, pkg, imp string
		ok             bool
	}{
		{"storage imports nothing of ours", "storage", "idp", false},
		{"keys may import storage", "keys", "storage", true},
		{"the OAuth core does not know a dialect", "provider", "provider/legacy", false},
		{"a dialect may use the provider", "provider/legacy", "provider", true},
		{"dialects do not import each other", "provider/legacy", "provider/dialects", false},
		{"the OAuth core does not know the dialects' machinery", "provider", "provider/internal/clientapi", false},
		{"a dialect may use the shared machinery", "provider/dialects", "provider/internal/clientapi", true},
		{"the idp does not import the provider", "idp", "provider", false},
		{"the provider may use idp sub-packages", "provider", "idp/pages", true},
		{"upstream is a leaf", "upstream", "storage", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			may, ok := ruleOf(tc.pkg)
			if !ok {
				t.Fatalf("no rule for %s", tc.pkg)
			}
			if got := allowedBy(may, tc.imp); got != tc.ok {
				t.Errorf("%s → %s allowed %v, want %v", tc.pkg, tc.imp, got, tc.ok)
			}
		})
	}
}
