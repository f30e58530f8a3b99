// Package pinning classifies MySQL/MariaDB statements by what they do to
// session state: transaction boundaries, reasons a backend connection must be
// pinned to one client session, tracked session settings (with values) and
// schema changes. The pool uses the result to decide when a backend can be
// shared.
//
// # Classifying
//
// A Classifier is built once (NewClassifier, with options such as
// WithFilters(ExcludeVariableSets) or WithMaxStatementLen) and is safe for
// concurrent use. Classify fills a caller-owned Result; reusing the Result
// keeps the common path (reads, writes, BEGIN/COMMIT, SET NAMES, tracked SETs
// with literal values) free of allocations. A ;-separated batch reports the
// union of its statements' transaction flags and pin reasons, and the net
// effect of their settings, schema changes and unpins.
//
// The lexer understands -- and # comments, /* */ comments, quoted strings
// with backslash escapes (or without, WithNoBackslashEscapes), doubled
// quotes, backquoted identifiers, and executable comments (/*! ... */,
// /*!NNNNN ... */, /*M!NNNNNN ... */), whose content is read as code
// whatever its version number: a pin found there is reported with
// PinExecutableComment as well. Text inside strings, identifiers and comments
// never triggers anything.
//
// # Pin reasons
//
// PinReason enumerates why a session must keep its backend: locks (LOCK
// TABLES, FLUSH ... WITH READ LOCK, GET_LOCK, backup locks), user variables,
// temporary tables, text-protocol prepared statements, FOUND_ROWS /
// SQL_CALC_FOUND_ROWS, ROW_COUNT(), LAST_INSERT_ID(expr), HANDLER, SET of an
// untracked variable, SET TRANSACTION for the next transaction,
// session_track_*, sql_log_bin, warnings and diagnostics, compound
// statements, and statements too long to parse. Result.Unpins reports the
// statements that certainly release a pin (UNLOCK TABLES,
// RELEASE_ALL_LOCKS()). LAST_INSERT_ID() without an argument is not a pin
// reason: Result.ReadsLastInsertID lets the driver emulate it.
//
// # Tracked settings
//
// Var enumerates the session variables rdsmux carries from backend to
// backend instead of pinning. A SET of one of them produces, in the Result,
// either a normalized literal (Result.Settings), a return to the default
// (Result.Defaults) or, when the value is an expression or only the server
// can know it, a request to read the value back after the statement ran
// (Result.ReadBack, ReadBackQuery, ServerValue). Normalized literals compare
// equal when the settings are equal and are what @@SESSION reports: booleans
// as 1/0, numbers without leading zeros, names of character sets and
// collations in lower case and quoted, sql_mode in upper case in the
// server's order, time zone offsets as '+HH:MM', isolation levels as
// 'READ-COMMITTED'. sql_mode values naming a combination mode (ANSI,
// TRADITIONAL, ...) are read back because servers expand them differently.
//
// SET NAMES and SET CHARACTER SET expand into the variables they change.
// A character set and its collation move together on the server: Settings
// that record character_set_connection without collation_connection mean
// the character set's default collation, and Settings.Diff replays them by
// assigning the character set. Variables named by the session are replayed
// as spelled (tx_isolation on MariaDB before 11.1); SET SESSION TRANSACTION
// sets them unnamed, and DiffAs with SpellingFor(serverVersion) picks the
// spelling the server knows.
//
// # Limits
//
// The classifier reads text, not the server's mind. Stored procedures
// (CALL) and stored functions may change session state without a trace in
// the statement; they do not pin. Sequence reads of session state
// (LASTVAL, PREVIOUS VALUE FOR) and CONNECTION_ID() do not pin. Executable
// comments are treated as code even when the server's version would skip
// them, which can only add pins. Compound statements run directly pin, and
// a routine definition's body is skipped, not classified.
package pinning
