// Package iamauth supplies database credentials the way RDS Proxy gets
// them: IAM authentication tokens refreshed ahead of expiry, and Secrets
// Manager secrets cached and re-fetched through rotation.
//
// Everything is a Provider, asked once for each new backend connection:
// TokenSource and TokenCache (IAM tokens), SecretsManagerSource (a
// secret's JSON, AWSPENDING during rotation), and Static, EnvSource and
// FileSource for local development. Connect dials with rotation
// tolerance; NewConnector does the same for database/sql:
//
//	src, err := iamauth.NewSecretsManagerSource(client, "prod/orders/db")
//	connector, err := iamauth.NewConnector(mysqlCfg, src) // a 1045 re-fetches and retries
//	db := sql.OpenDB(connector)
//
// IAM tokens are only handed to connections with verified TLS
// (ErrTLSRequired otherwise); a Credential never prints its password.
// How refreshes, rotation and retries work is in docs/design.md
// ("Credentials").
package iamauth
