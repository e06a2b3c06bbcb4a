// Command manam assembles and runs Manam. It is the only package that reads
// the environment: run() loads the configuration once, opens storage, builds
// keys, idp and provider, mounts the routes and serves with graceful
// shutdown; the other subcommands (migrate, gc, tenant, user, keys) share
// the same configuration and assembly.
package main
