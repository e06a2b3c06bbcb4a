package main

import (
	"strings"
	"testing"
)

func TestConfigSQLiteMinFree(t *testing.T) {
	tests := []struct {
		name, value string
		want        int64 // -2: refused
	}{
		{"unset: automatic", "", -1},
		{"never refuse", "0", 0},
		{"bytes", "1048576", 1 << 20},
		{"KiB", "512KiB", 512 << 10},
		{"MiB", "64MiB", 64 << 20},
		{"GiB with a space", "1 GiB", 1 << 30},
		{"negative", "-1", -2},
		{"decimal unit", "64MB", -2},
		{"fraction", "1.5GiB", -2},
		{"words", "lots", -2},
		{"overflow", "99999999999GiB", -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(newFlags("serve"), envOf(map[string]string{"MANAM_SQLITE_MIN_FREE": tt.value}))
			switch {
			case tt.want == -2 && (err == nil || !strings.Contains(err.Error(), "MANAM_SQLITE_MIN_FREE")):
				t.Errorf("%q accepted or not named: %v", tt.value, err)
			case tt.want != -2 && err != nil:
				t.Errorf("%q: %v", tt.value, err)
			case tt.want != -2 && c.SQLiteMinFree != tt.want:
				t.Errorf("%q: %d, want %d", tt.value, c.SQLiteMinFree, tt.want)
			}
		})
	}
}
