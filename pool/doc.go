// Package pool is the shared pool of backend database connections that
// rdsmux multiplexes client sessions onto.
//
// It does not know how a backend connection speaks: the driver wraps
// go-sql-driver connections, the listener wraps raw protocol connections, and
// both hand the pool a dial function.
package pool
