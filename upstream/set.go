package upstream

import (
	"errors"
	"fmt"
)

// Set is the configured upstreams, in configuration order.
type Set struct {
	all  []Connector
	byID map[string]Connector
}

// New builds an OIDC connector for each config and returns them as a Set.
// It reports every invalid config and every duplicate id together, and
// contacts no upstream.
func New(cfgs []Config, deps Deps) (*Set, error) {
	var (
		errs  []error
		conns []Connector
	)
	for _, cfg := range cfgs {
		c, err := NewOIDC(cfg, deps)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conns = append(conns, c)
	}
	s, err := NewSet(conns...)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// NewSet gathers connectors built elsewhere (e.g. fakes in a caller's
// tests). Ids must be unique.
func NewSet(conns ...Connector) (*Set, error) {
	s := &Set{byID: make(map[string]Connector, len(conns))}
	var errs []error
	for _, c := range conns {
		if _, dup := s.byID[c.ID()]; dup {
			errs = append(errs, fmt.Errorf("%w: upstream %q: duplicate id", ErrConfig, c.ID()))
			continue
		}
		s.byID[c.ID()] = c
		s.all = append(s.all, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Get returns the connector with the given id.
func (s *Set) Get(id string) (Connector, bool) {
	c, ok := s.byID[id]
	return c, ok
}

// All returns the connectors in configuration order (a copy).
func (s *Set) All() []Connector {
	return append([]Connector(nil), s.all...)
}

// Len is the number of connectors.
func (s *Set) Len() int { return len(s.all) }
