// Package pinning classifies MySQL/MariaDB statements by what they do to
// session state: transaction boundaries, reasons a backend connection must be
// pinned to one client session, tracked session settings (with values) and
// schema changes. The pool uses the result to decide when a backend can be
// shared.
package pinning
