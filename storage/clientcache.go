package storage

import (
	"sync"
	"time"
)

// ClientCacheTTL is how long a server keeps a tenant it loaded. A change
// made through this process (the store's own methods) takes effect at
// once; one made by another process (the CLI, another replica) within
// ClientCacheTTL.
const ClientCacheTTL = 2 * time.Second

// clientCache keeps recently loaded tenants: every token request and every
// token lookup needs its tenant, and reloading it was a fifth of the token
// endpoint's CPU.
type clientCache struct {
	mu  sync.RWMutex
	m   map[string]cachedClient
	ttl time.Duration
	now func() time.Time
}

type cachedClient struct {
	c       *Client
	expires time.Time
}

func newClientCache(ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{m: map[string]cachedClient{}, ttl: ttl, now: now}
}

func (c *clientCache) get(id string) (*Client, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	return e.c, true
}

func (c *clientCache) put(id string, cl *Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		// Bounded: drop everything rather than track recency.
		c.m = map[string]cachedClient{}
	}
	c.m[id] = cachedClient{c: cl, expires: c.now().Add(c.ttl)}
}

func (c *clientCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
