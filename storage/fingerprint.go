package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fingerprint summarises the content of every table of the database (every
// table the schema has, not a fixed list): table name → "N rows, <hash>",
// where the hash covers every column of every row. Two fingerprints are
// equal exactly when no row was added, deleted or updated in between (up
// to a hash collision), so tests use it to assert that a refused request
// wrote nothing at all: RowCounts misses an UPDATE (a code invalidated, a
// token deactivated). Rows are hashed in the order of their encodings, so
// the result does not depend on the order the database returns them in
// (the same as ordering by primary key, without having to know it).
//
// It reads whole tables: diagnostics and tests only.
func (db *DB) Fingerprint(ctx context.Context) (map[string]string, error) {
	g := db.reader(ctx)
	tables, err := g.Migrator().GetTables()
	if err != nil {
		return nil, fmt.Errorf("storage: list tables: %w", err)
	}
	out := make(map[string]string, len(tables))
	for _, t := range tables {
		if strings.HasPrefix(t, "sqlite_") { // SQLite's own bookkeeping (sqlite_sequence)
			continue
		}
		sum, n, err := tableFingerprint(ctx, db, t)
		if err != nil {
			return nil, err
		}
		out[t] = fmt.Sprintf("%d rows, %s", n, sum)
	}
	return out, nil
}

// tableFingerprint hashes every row of table t.
func tableFingerprint(ctx context.Context, db *DB, t string) (string, int, error) {
	rows, err := db.reader(ctx).Table(t).Rows()
	if err != nil {
		return "", 0, fmt.Errorf("storage: read %s: %w", t, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", 0, fmt.Errorf("storage: read %s: %w", t, err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var encoded [][]byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", 0, fmt.Errorf("storage: read %s: %w", t, err)
		}
		var b bytes.Buffer
		for i, c := range cols {
			b.WriteString(c)
			b.WriteByte('=')
			encodeValue(&b, vals[i])
			b.WriteByte(0)
		}
		encoded = append(encoded, b.Bytes())
	}
	if err := rows.Err(); err != nil {
		return "", 0, fmt.Errorf("storage: read %s: %w", t, err)
	}
	slices.SortFunc(encoded, bytes.Compare)
	h := sha256.New()
	for _, r := range encoded {
		h.Write([]byte(strconv.Itoa(len(r))))
		h.Write([]byte{':'})
		h.Write(r)
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), len(encoded), nil
}

// encodeValue writes a scanned column value unambiguously (type-tagged,
// length-prefixed where it could contain anything).
func encodeValue(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case []byte:
		fmt.Fprintf(b, "b%d:", len(v))
		b.Write(v)
	case string:
		fmt.Fprintf(b, "b%d:", len(v)) // a driver may give text as string or as bytes: same encoding
		b.WriteString(v)
	case time.Time:
		b.WriteString("t" + v.UTC().Format(time.RFC3339Nano))
	default:
		fmt.Fprintf(b, "%T:%v", v, v)
	}
}
