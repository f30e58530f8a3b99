// Package iamauth supplies database credentials the way RDS Proxy gets them:
// IAM authentication tokens refreshed ahead of expiry, and Secrets Manager
// secrets cached and re-fetched through rotation.
package iamauth
