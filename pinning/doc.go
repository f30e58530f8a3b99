// Package pinning classifies MySQL/MariaDB statements by what they do to
// session state: transaction boundaries, reasons a backend connection must
// be pinned to one client session (PinReason), tracked session settings
// with their values (Var, Settings) and schema changes. The pool uses the
// result to decide when a backend can be shared.
//
// A Classifier is built once and is safe for concurrent use; Classify
// fills a caller-owned Result, and reusing the Result keeps the common
// path free of allocations:
//
//	c := pinning.NewClassifier(pinning.WithFilters(pinning.ExcludeVariableSets))
//	var r pinning.Result
//	c.Classify("SET NAMES utf8mb4, time_zone = '+0:00'", &r)
//	if r.Pinned() { ... }            // r.Pins says why
//	r.Apply(&session)                // the session's tracked settings
//	stmt := session.Diff(&backend)   // one SET that brings a backend to them
//
// See ExampleClassifier_Classify and ExampleSettings_Diff. What the lexer
// understands, how settings are normalized and replayed, and the
// classifier's limits are in docs/design.md ("The classifier").
package pinning
