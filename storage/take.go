package storage

import (
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// takeOne loads the one row q finds: ErrNotFound when there is none, any
// other failure wrapped as "storage: get what".
func takeOne[T any](q *gorm.DB, what string) (*T, error) {
	var v T
	err := q.Take(&v).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("storage: get %s: %w", what, unavailableErr(err))
	}
	return &v, nil
}
