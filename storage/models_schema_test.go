package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/manam-id/manam/storage/storagetest"
)

// TestModelsFitSchema checks that the schema the migrations make is what
// the models need (storage.DB.ModelMisfits), on both backends: a model
// changed without a migration fails here.
func TestModelsFitSchema(t *testing.T) {
	for _, b := range storagetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			b.Check(t)
			misfits, err := b.Open(t).ModelMisfits(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(misfits) > 0 {
				t.Errorf("the schema does not fit the models:\n%s", strings.Join(misfits, "\n"))
			}
		})
	}
}
