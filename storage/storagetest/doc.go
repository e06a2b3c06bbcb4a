// Package storagetest holds the tests every storage backend must pass, and
// the helpers that give a test a fresh database of its own.
//
// # Databases for tests
//
// Backends lists the backends (SQLite always; MySQL/MariaDB when
// MANAM_TEST_MYSQL_DSN names a server, e.g.
// mysql://root:@tcp(127.0.0.1:3306)/test). Each test gets its own database:
// a file in t.TempDir() on SQLite, a database manam_t_<random> created on
// the server and dropped when the test ends on MySQL. Without the variable
// the MySQL tests skip; MANAM_TEST_REQUIRE_MYSQL=1 makes them fail (CI).
//
//	for _, b := range storagetest.Backends() {
//		t.Run(b.Name, func(t *testing.T) {
//			db := b.Open(t) // fresh, migrated, closed at the end of t
//			...
//		})
//	}
//
// Backend.NewDSN gives an empty (unmigrated) database's DSN instead, for a
// test that migrates itself or starts a server process; OpenDSN opens and
// migrates such a DSN when a test needs both. Backend.Check skips (or, in
// CI, fails) a group of subtests when the backend is not configured.
//
// # fosite conformance
//
// RunFosite encodes the storage semantics fosite v0.49.0's handlers rely
// on, as one table of named subtests, each on a fresh store from a Harness.
// It passes against fosite's own storage.MemoryStore (MemoryHarness), which
// proves it asks nothing fosite does not. RunFositeStrict adds what
// Manam's store promises on top (revocation of every row of a request,
// single use of codes and refresh tokens under concurrency,
// storage.Transactional); run it on storage.FositeStore only
// (StoreHarness). TenantOf turns a fosite client into the tenant row that
// registers it with Manam's store.
//
// The package is imported by tests only. It imports package storage and
// fosite, nothing else of Manam's.
package storagetest
