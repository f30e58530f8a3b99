// Package proxy is a MySQL-protocol listener that serves many client
// connections from a shared rdsmux pool of backend connections.
package proxy
