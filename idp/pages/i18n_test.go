package pages

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/manam-id/manam/idp"
	"github.com/manam-id/manam/idp/i18n"
)

// TestEveryPhraseHasPersian scans the page and mail templates and the Go
// code that shows text to users, and fails for a phrase the Persian catalog
// lacks: a new English string cannot ship untranslated.
func TestEveryPhraseHasPersian(t *testing.T) {
	patterns := map[string][]*regexp.Regexp{
		"templates/*.html":    {regexp.MustCompile(`\{\{t [$.]*Lang "([^"]+)"`)},
		"../mail/*.tmpl":      {regexp.MustCompile(`\{\{t [$.]*Lang "([^"]+)"`)},
		"*.go":                {regexp.MustCompile(`p\.t\(r, "([^"]+)"`), regexp.MustCompile(`Error\(w, r, [^,]+, "([^"]+)", "([^"]+)"`), regexp.MustCompile(`(?:"Error"\]|\.Error) = "([^"]+)"`), regexp.MustCompile(`:\s+"([A-Z][^"]+\.)",?\n`)},
		"../../provider/*.go": {regexp.MustCompile(`Error\(w, r, [^,]+, "([^"]+)", "([^"]+)"`), regexp.MustCompile(`msg = "([^"]+)"`)},
		"../../provider/legacy/*.go": {regexp.MustCompile(`refuse\("([^"]+)"`), regexp.MustCompile(`Say\("([^"]+)"`), regexp.MustCompile(`(?:success|shape)\(c, "([^"]+)"`), regexp.MustCompile(`message: +"([^"]+)"`),
			regexp.MustCompile(`a\.t\(c, "([^"]+)"`), regexp.MustCompile(`(?:msg|message) :?= "([^"]+)"`), regexp.MustCompile(`FieldErrors\{"[a-z_]+": "([^"]+)"\}`), regexp.MustCompile(`fe\["[a-z_]+"\] = "([^"]+)"`)},
		"../../provider/dialects/*.go": {
			regexp.MustCompile(`say\("([^"]+)"`)},
		"../../provider/internal/clientapi/*.go": {
			regexp.MustCompile(`Say\("([^"]+)"`)},
		"../*.go": {regexp.MustCompile(`FieldErrors\{"[a-z_]+": "([^"]+)"\}`), regexp.MustCompile(`fe\["[a-z_]+"\] = "([^"]+)"`), regexp.MustCompile(`return "([A-Z][^"]+)"`), regexp.MustCompile(`i18n\.T\([a-zA-Z.]+, "([^"]+)"`)},
	}
	seen := 0
	for glob, res := range patterns {
		files, _ := filepath.Glob(glob)
		if len(files) == 0 {
			t.Fatalf("nothing matches %s", glob)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "importer.go") {
				continue // tests, and the CLI importer's messages (English, for operators)
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, re := range res {
				for _, m := range re.FindAllStringSubmatch(string(b), -1) {
					for _, phrase := range m[1:] {
						seen++
						if !i18n.Has(phrase) {
							t.Errorf("%s: no Persian for %q", f, phrase)
						}
					}
				}
			}
		}
	}
	for _, m := range idp.MaritalStatuses {
		seen++
		if !i18n.Has(m) {
			t.Errorf("no Persian for the marital status %q", m)
		}
	}
	if seen < 100 {
		t.Fatalf("only %d phrases found: the scan is broken", seen)
	}
}

func TestLanguageChoice(t *testing.T) {
	cases := []struct {
		name, ui, accept string
		want             i18n.Lang
	}{
		{"default", "", "", i18n.EN},
		{"Accept-Language fa", "", "fa-IR,fa;q=0.9,en;q=0.5", i18n.FA},
		{"Accept-Language prefers English", "", "en-US,en;q=0.9,fa;q=0.8", i18n.EN},
		{"unsupported falls back to English", "", "de-DE,fr;q=0.8", i18n.EN},
		{"ui_locales wins over Accept-Language", "en", "fa", i18n.EN},
		{"ui_locales fa", "fa-IR en", "en", i18n.FA},
		{"ui_locales unsupported, then Accept-Language", "de", "fa", i18n.FA},
		{"garbage", "!!", "%%%", i18n.EN},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := i18n.Choose(tc.ui, tc.accept); got != tc.want {
				t.Fatalf("Choose(%q, %q) = %s, want %s", tc.ui, tc.accept, got, tc.want)
			}
		})
	}
}

func TestPersianPagesAreRightToLeft(t *testing.T) {
	p, err := New(Deps{Flow: fakeFlow{}, CSRF: NewCSRF([]byte("k"), false)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/login?challenge=good", nil)
	req.Header.Set("Accept-Language", "fa")
	rec := httptest.NewRecorder()
	p.Login(rec, req)
	body := rec.Body.String()
	if !strings.Contains(body, `<html lang="fa" dir="rtl">`) || !strings.Contains(body, "<h1>ورود</h1>") || rec.Header().Get("Content-Language") != "fa" {
		t.Fatalf("Persian login page:\n%.600s", body)
	}
	if !strings.Contains(body, `id="email" name="email" type="text" inputmode="email" dir="ltr"`) {
		t.Fatal("the e-mail or mobile field must stay left-to-right")
	}
}
