//go:build !(linux || darwin || freebsd)

package storage

import "errors"

// diskSpace is not measured here: only the write-ahead log's bound applies.
func diskSpace(string) (free, total int64, err error) {
	return 0, 0, errors.New("free disk space is not measured on this system")
}
