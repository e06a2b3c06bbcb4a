package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"
)

// Schema is a database's schema as the database itself reports it (its
// catalogue, not the gorm models): table name → table. Column order is not
// part of it, because it depends on the path a database took (a column
// created with its table or added later by ALTER TABLE), and nothing of
// Manam's depends on it.
//
// Tests compare a database upgraded from an older migration level with a
// fresh one, and the fresh one with what the models need (migrate.go).
type Schema map[string]*TableSchema

// TableSchema is one table.
type TableSchema struct {
	// Options are MySQL's engine and default collation ("" on SQLite).
	Options    string
	Columns    map[string]ColumnSchema
	PrimaryKey []string
	// Indexes by name, primary key excluded (SQLite's automatic index for a
	// PRIMARY KEY is not listed; MySQL's implicit index for a foreign key is).
	Indexes map[string]IndexSchema
	// ForeignKeys in a canonical text form, sorted.
	ForeignKeys []string
}

// ColumnSchema is one column.
type ColumnSchema struct {
	Type     string // as declared on SQLite ("text"); COLUMN_TYPE on MySQL ("varchar(64)")
	NotNull  bool
	Default  string // the default's text, "" for none (a NULL default is "NULL")
	Collate  string // MySQL: the column's collation ("" for non-text columns and on SQLite)
	Position int    // 1-based; informative only, not compared
}

// IndexSchema is one index.
type IndexSchema struct {
	Unique  bool
	Columns []string
}

// Schema reads the schema of every table (SQLite's own tables excluded).
// It is for diagnostics and tests.
func (db *DB) Schema(ctx context.Context) (Schema, error) {
	g := db.reader(ctx)
	var (
		s   Schema
		err error
	)
	if db.dialect == MySQL {
		s, err = mysqlSchema(g)
	} else {
		s, err = sqliteSchema(g)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read schema: %w", err)
	}
	return s, nil
}

func sqliteSchema(g *gorm.DB) (Schema, error) {
	var tables []string
	err := each(g, func(r *sql.Rows) error {
		var n string
		tables = append(tables, n)
		return r.Scan(&tables[len(tables)-1])
	}, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
	if err != nil {
		return nil, err
	}
	s := Schema{}
	for _, name := range tables {
		t, err := sqliteTable(g, name)
		if err != nil {
			return nil, err
		}
		s[name] = t
	}
	return s, nil
}

// sqliteTable reads one table: its columns and primary key, indexes and foreign keys.
func sqliteTable(g *gorm.DB, name string) (*TableSchema, error) {
	t := &TableSchema{Columns: map[string]ColumnSchema{}, Indexes: map[string]IndexSchema{}}
	pk := map[int]string{}
	err := each(g, func(r *sql.Rows) error {
		var (
			cid, pkPos int
			col, typ   string
			notNull    bool
			dflt       sql.NullString
		)
		if err := r.Scan(&cid, &col, &typ, &notNull, &dflt, &pkPos); err != nil {
			return err
		}
		t.Columns[col] = ColumnSchema{Type: strings.ToLower(typ), NotNull: notNull, Default: dflt.String, Position: cid + 1}
		if pkPos > 0 {
			pk[pkPos] = col
		}
		return nil
	}, `SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`, name)
	if err != nil {
		return nil, err
	}
	for i := 1; i <= len(pk); i++ {
		t.PrimaryKey = append(t.PrimaryKey, pk[i])
	}
	type index struct {
		name   string
		unique bool
	}
	var idx []index
	err = each(g, func(r *sql.Rows) error {
		var (
			ix     index
			origin string
		)
		if err := r.Scan(&ix.name, &ix.unique, &origin); err != nil {
			return err
		}
		if origin != "pk" {
			idx = append(idx, ix)
		}
		return nil
	}, `SELECT name, "unique", origin FROM pragma_index_list(?)`, name)
	if err != nil {
		return nil, err
	}
	for _, ix := range idx {
		var on []string
		err := each(g, func(r *sql.Rows) error {
			var c string
			on = append(on, c)
			return r.Scan(&on[len(on)-1])
		}, "SELECT name FROM pragma_index_info(?) ORDER BY seqno", ix.name)
		if err != nil {
			return nil, err
		}
		t.Indexes[ix.name] = IndexSchema{Unique: ix.unique, Columns: on}
	}
	if t.ForeignKeys, err = sqliteForeignKeys(g, name); err != nil {
		return nil, err
	}
	return t, nil
}

func sqliteForeignKeys(g *gorm.DB, table string) ([]string, error) {
	byID := map[int]*fkText{}
	var order []int
	err := each(g, func(r *sql.Rows) error {
		var (
			id                          int
			ref, from, to, onUpd, onDel string
		)
		if err := r.Scan(&id, &ref, &from, &to, &onUpd, &onDel); err != nil {
			return err
		}
		k := byID[id]
		if k == nil {
			k = &fkText{ref: ref, onUpdate: onUpd, onDelete: onDel}
			byID[id] = k
			order = append(order, id)
		}
		k.from, k.to = append(k.from, from), append(k.to, to)
		return nil
	}, `SELECT id, "table", "from", "to", on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range order {
		out = append(out, byID[id].String())
	}
	slices.Sort(out)
	return out, nil
}

func mysqlSchema(g *gorm.DB) (Schema, error) {
	s := Schema{}
	err := each(g, func(r *sql.Rows) error {
		var name, engine, collation string
		if err := r.Scan(&name, &engine, &collation); err != nil {
			return err
		}
		s[name] = &TableSchema{Options: "ENGINE=" + engine + " COLLATE=" + collation,
			Columns: map[string]ColumnSchema{}, Indexes: map[string]IndexSchema{}}
		return nil
	}, `SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`)
	if err != nil {
		return nil, err
	}
	for _, read := range []func(*gorm.DB, Schema) error{mysqlColumns, mysqlIndexes, mysqlForeignKeys} {
		if err := read(g, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// mysqlColumns reads every column of s's tables.
func mysqlColumns(g *gorm.DB, s Schema) error {
	err := each(g, func(r *sql.Rows) error {
		var (
			table, col, typ, nullable, extra string
			def, collation                   sql.NullString
			pos                              int
		)
		if err := r.Scan(&table, &col, &typ, &nullable, &def, &collation, &pos, &extra); err != nil {
			return err
		}
		t := s[table]
		if t == nil {
			return nil // a view
		}
		d := def.String
		if !def.Valid && nullable == "YES" {
			d = "NULL" // MySQL reports no default where MariaDB reports NULL: the same thing
		}
		typ = strings.ToLower(typ)
		if extra != "" {
			typ += " " + strings.ToLower(extra)
		}
		t.Columns[col] = ColumnSchema{Type: typ, NotNull: nullable == "NO", Default: d, Collate: collation.String, Position: pos}
		return nil
	}, `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLLATION_NAME, ORDINAL_POSITION, EXTRA
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()`)
	return err
}

// mysqlIndexes reads every index and primary key of s's tables.
func mysqlIndexes(g *gorm.DB, s Schema) error {
	err := each(g, func(r *sql.Rows) error {
		var (
			table, index, col string
			nonUnique         int
		)
		if err := r.Scan(&table, &index, &nonUnique, &col); err != nil {
			return err
		}
		t := s[table]
		if t == nil {
			return nil
		}
		if index == "PRIMARY" {
			t.PrimaryKey = append(t.PrimaryKey, col)
			return nil
		}
		cur := t.Indexes[index]
		cur.Unique = nonUnique == 0
		cur.Columns = append(cur.Columns, col)
		t.Indexes[index] = cur
		return nil
	}, `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`)
	return err
}

// mysqlForeignKeys reads every foreign key of s's tables.
func mysqlForeignKeys(g *gorm.DB, s Schema) error {
	type key struct{ table, name string }
	byName := map[key]*fkText{}
	var order []key
	err := each(g, func(r *sql.Rows) error {
		var table, name, col, ref, refCol, onUpd, onDel string
		if err := r.Scan(&table, &name, &col, &ref, &refCol, &onUpd, &onDel); err != nil {
			return err
		}
		k := key{table, name}
		fk := byName[k]
		if fk == nil {
			fk = &fkText{name: name, ref: ref, onUpdate: onUpd, onDelete: onDel}
			byName[k] = fk
			order = append(order, k)
		}
		fk.from, fk.to = append(fk.from, col), append(fk.to, refCol)
		return nil
	}, `SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME,
		r.UPDATE_RULE, r.DELETE_RULE
		FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r
		  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
		WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
		ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`)
	if err != nil {
		return err
	}
	for _, k := range order {
		if t := s[k.table]; t != nil {
			t.ForeignKeys = append(t.ForeignKeys, byName[k].String())
		}
	}
	for _, t := range s {
		slices.Sort(t.ForeignKeys)
	}
	return nil
}

// each runs a query and calls fn for every row.
func each(g *gorm.DB, fn func(*sql.Rows) error, q string, args ...any) error {
	rows, err := g.Raw(q, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// fkText builds a foreign key's canonical text.
type fkText struct {
	name               string // MySQL only: SQLite does not report constraint names
	from, to           []string
	ref                string
	onUpdate, onDelete string
}

func (f *fkText) String() string {
	s := fmt.Sprintf("(%s) REFERENCES %s(%s) ON DELETE %s ON UPDATE %s",
		strings.Join(f.from, ", "), f.ref, strings.Join(f.to, ", "), strings.ToUpper(f.onDelete), strings.ToUpper(f.onUpdate))
	if f.name != "" {
		s = f.name + " " + s
	}
	return s
}

// Lines is the schema as sorted, self-contained lines ("table.column: …"),
// one per table option, column, primary key, index and foreign key: the
// form Diff compares and a test prints.
func (s Schema) Lines() []string {
	var out []string
	for name, t := range s {
		if t.Options != "" {
			out = append(out, name+": "+t.Options)
		}
		for cn, c := range t.Columns {
			l := fmt.Sprintf("%s.%s: %s", name, cn, c.Type)
			if c.NotNull {
				l += " NOT NULL"
			}
			if c.Default != "" {
				l += " DEFAULT " + c.Default
			}
			if c.Collate != "" {
				l += " COLLATE " + c.Collate
			}
			out = append(out, l)
		}
		if len(t.PrimaryKey) > 0 {
			out = append(out, fmt.Sprintf("%s: PRIMARY KEY (%s)", name, strings.Join(t.PrimaryKey, ", ")))
		}
		for in, ix := range t.Indexes {
			u := "INDEX"
			if ix.Unique {
				u = "UNIQUE INDEX"
			}
			out = append(out, fmt.Sprintf("%s: %s %s (%s)", name, u, in, strings.Join(ix.Columns, ", ")))
		}
		for _, fk := range t.ForeignKeys {
			out = append(out, fmt.Sprintf("%s: FOREIGN KEY %s", name, fk))
		}
		if len(t.Columns) == 0 {
			out = append(out, name+": (no columns)")
		}
	}
	slices.Sort(out)
	return out
}

// Diff lists what differs between s and want: "- line" for what only
// want has, "+ line" for what only s has. Empty when they are the same.
func (s Schema) Diff(want Schema) []string {
	have, need := s.Lines(), want.Lines()
	var out []string
	for _, l := range need {
		if _, found := slices.BinarySearch(have, l); !found {
			out = append(out, "- "+l)
		}
	}
	for _, l := range have {
		if _, found := slices.BinarySearch(need, l); !found {
			out = append(out, "+ "+l)
		}
	}
	return out
}
