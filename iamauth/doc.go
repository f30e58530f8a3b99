// Package iamauth supplies database credentials the way RDS Proxy gets them:
// IAM authentication tokens refreshed ahead of expiry, and Secrets Manager
// secrets cached and re-fetched through rotation.
//
// Everything is a Provider: the pool calls Credentials once for each new
// backend connection and drops the Credential after the handshake.
//
//   - TokenCache and TokenSource sign IAM tokens (feature/rds/auth) with any
//     aws.CredentialsProvider, cache them per (host, port, region, user),
//     refresh them in the background ahead of their 15-minute expiry and
//     share one signing between concurrent callers.
//   - SecretsManagerSource reads a secret's JSON (username, password, host,
//     port, dbname; keys configurable), caches it, and during rotation falls
//     back from AWSCURRENT to AWSPENDING.
//   - Static, EnvSource and FileSource serve local development.
//
// Connect dials with rotation tolerance: a server rejection (MySQL error
// 1045) invalidates the credential and retries, at once and then with
// backoff for a bounded window. The pool's dial function and the proxy's
// backend side call it; NewConnector does the same for database/sql with
// go-sql-driver/mysql, and BeforeConnect is the bare go-sql-driver hook.
//
// IAM tokens travel with the mysql_clear_password plugin, so they are only
// ever handed to a go-sql-driver connection that has verified TLS without
// plaintext fallback; otherwise the connection fails with ErrTLSRequired
// before anything is sent. A Credential never prints or logs its password.
package iamauth
