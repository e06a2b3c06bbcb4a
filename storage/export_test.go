package storage

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm/schema"
)

// MigrateTo applies the migrations up to version target only: a database
// at an older level, for the upgrade tests.
func (db *DB) MigrateTo(ctx context.Context, target int) ([]int, error) {
	return db.migrateTo(ctx, target)
}

// models are every gorm model the stores read and write. A new model goes
// here, and its table into a migration.
var models = []any{
	&Tenant{},
	&authorizeCodeRow{}, &pkceRow{}, &oidcSessionRow{}, &accessTokenRow{}, &refreshTokenRow{},
	&Account{}, &LoginSession{}, &Consent{}, &SigningKey{},
	&OutboxMessage{}, &Confirmation{}, &Membership{},
	&Factor{}, &RecoveryCode{}, &TrustedDevice{}, &PendingLogin{},
	&UpstreamLink{}, &PendingUpstreamLink{},
	&refreshGraceRow{}, &ThrottleBucket{}, &revocationRow{},
	&schemaMigration{},
}

// ModelMisfits lists how the schema of db (migrated) fails the models:
// every model's table exists; every column a model reads or writes exists
// with a type that holds it (the type gorm would give the field, or a
// longer string); a field the model may leave nil is not refused by NOT
// NULL without a default; a NOT NULL field is not nullable; a field gorm
// indexes as unique has a unique index; the primary key is the model's;
// and every table belongs to a model.
func (db *DB) ModelMisfits(ctx context.Context) ([]string, error) {
	have, err := db.Schema(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range models {
		s, err := schema.Parse(m, &sync.Map{}, db.w.NamingStrategy)
		if err != nil {
			return nil, err
		}
		seen[s.Table] = true
		tbl := have[s.Table]
		if tbl == nil {
			out = append(out, fmt.Sprintf("model %s: no table %s", s.Name, s.Table))
			continue
		}
		for _, f := range s.Fields {
			if f.DBName == "" || f.IgnoreMigration {
				continue
			}
			if err := fieldFits(db, f, tbl); err != nil {
				out = append(out, fmt.Sprintf("%s.%s (%s.%s): %v", s.Name, f.Name, s.Table, f.DBName, err))
			}
		}
		if !slices.Equal(tbl.PrimaryKey, s.PrimaryFieldDBNames) {
			out = append(out, fmt.Sprintf("%s: primary key %v, model says %v", s.Table, tbl.PrimaryKey, s.PrimaryFieldDBNames))
		}
	}
	for name := range have {
		if !seen[name] {
			out = append(out, fmt.Sprintf("table %s has no model in models (export_test.go)", name))
		}
	}
	slices.Sort(out)
	return out, nil
}

var width = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|bigint)\(\d+\)`)

// fieldFits reports how column f.DBName of tbl cannot hold field f.
func fieldFits(db *DB, f *schema.Field, tbl *TableSchema) error {
	col, ok := tbl.Columns[f.DBName]
	if !ok {
		return fmt.Errorf("no such column")
	}
	want := strings.ToLower(db.w.Dialector.DataTypeOf(f))
	want = strings.TrimSuffix(want, " null")
	got := col.Type
	if db.dialect == MySQL {
		want = strings.Replace(want, "boolean", "tinyint(1)", 1)
		if want != "tinyint(1)" {
			got = width.ReplaceAllString(got, "$1")
		}
	}
	if got != want && !longer(got, want) {
		return fmt.Errorf("column type %s, the model needs %s", col.Type, want)
	}
	// A nil the model may write (it does not say NOT NULL) must be storable.
	k := f.FieldType.Kind()
	optional := !f.PrimaryKey && !f.NotNull && (k == reflect.Pointer || k == reflect.Slice || k == reflect.Map)
	if col.NotNull && optional && col.Default == "" {
		return fmt.Errorf("NOT NULL without a default, but the model may leave it nil")
	}
	if f.NotNull && !col.NotNull && !f.PrimaryKey {
		return fmt.Errorf("the model says NOT NULL, the column is nullable")
	}
	if f.Unique || f.TagSettings["UNIQUEINDEX"] != "" {
		unique := false
		for _, ix := range tbl.Indexes {
			if ix.Unique && slices.Contains(ix.Columns, f.DBName) {
				unique = true
			}
		}
		if !unique {
			return fmt.Errorf("the model wants it unique: no unique index")
		}
	}
	return nil
}

var sized = regexp.MustCompile(`^(varchar|varbinary)\((\d+)\)$`)

// longer reports whether got is want's string type with room for more.
func longer(got, want string) bool {
	g, w := sized.FindStringSubmatch(got), sized.FindStringSubmatch(want)
	if g == nil || w == nil || g[1] != w[1] {
		return false
	}
	gn, _ := strconv.Atoi(g[2])
	wn, _ := strconv.Atoi(w[2])
	return gn >= wn
}

// Migrations lists the steps' versions and names, in order.
func Migrations() (versions []int, names []string) {
	for _, m := range migrations {
		versions = append(versions, m.version)
		names = append(names, m.name)
	}
	return versions, names
}

// SetNow sets the store's clock (revocation rows and sweeps).
func (s *FositeStore) SetNow(now func() time.Time) { s.now = now }
