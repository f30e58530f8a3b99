// Package proxy is a MySQL-protocol listener that serves many client
// connections from a shared rdsmux pool of backend connections: what Amazon
// RDS Proxy is, as a library (Server) and a command (cmd/rdsmux).
//
// # Wiring
//
// A Backend says where the database is and which account serves each client
// user; its Dial is the pool's Config.Dial. A Server authenticates clients
// against Users (mysql_native_password or caching_sha2_password, optionally
// over TLS, RequireTLS refusing plaintext) and serves each client from a
// pool.Session: see ExampleServer.
//
// With Server.Backend set, clients are told what the database tells the
// listener: its version (with VersionSuffix), default collation and, of the
// capabilities the listener relays, those the server has; a MariaDB server
// is announced as one, with MARIADB_CLIENT_EXTENDED_METADATA (clients that
// ask for it get backends dialed with it) and MARIADB_CLIENT_CACHE_METADATA,
// which the listener emulates: backends always send column definitions,
// and a client is sent an execute's definitions only when they differ from
// those it holds for the statement (metacache.go). See identity.go.
//
// The two hops are encrypted independently: Server.TLSConfig for clients,
// Backend.TLSConfig for the database (cmd/rdsmux: -tls-cert/-tls-key,
// -backend-tls/-backend-ca). Ssl_cipher and Ssl_version, like any status,
// come from the backend connection: a TLS client sees the database's cipher
// when the listener connects with TLS, and an empty one when it does not
// (its own hop is encrypted all the same); a plaintext client of a
// listener that connects with TLS sees the database's cipher.
//
// # Multiplexing
//
// By default a client borrows a backend per transaction: the listener relays
// each command's response and reads the server status flags of the OK and
// EOF packets it passes; when no transaction is open, no results are pending
// and nothing pins the session, the backend goes back to the pool. COM_QUERY
// text is classified by package pinning: tracked settings (time_zone,
// sql_mode, names, isolation...) and the schema travel with the session and
// are replayed on whichever backend it borrows; state that cannot travel
// (user variables, temporary tables, named locks, LOCK TABLES, text
// PREPARE...) pins the session to its backend until it ends or resets
// (COM_RESET_CONNECTION, COM_CHANGE_USER). A pinned or dirty backend is reset
// (COM_RESET_CONNECTION) or closed, never given back dirty; a client that
// vanishes mid-transaction has its transaction rolled back.
//
// Packets are relayed as they arrive: each is copied once, from the
// backend's read buffer into the client's write buffer, with EOF packets
// translated when the two sides differ in CLIENT_DEPRECATE_EOF. Session-state
// tracking (CLIENT_SESSION_TRACK) is not offered on either side, so OK
// packets have the same layout on both and are relayed unchanged. Clients
// that ask for CLIENT_FOUND_ROWS are served by backends dialed with it (a
// pool partition of their own).
//
// # Prepared statements
//
// Statement ids are virtual: the client's id maps to the statement's text.
// On whichever backend a statement runs, it is prepared on first use and
// cached there (per schema and text, a bounded LRU per backend connection;
// evicted statements are closed on the server), so prepared statements do
// not pin. The client's COM_STMT_PREPARE answer is built from the first
// backend's definitions. Parameter types bound once by the client are
// replayed to backends that have not seen them; COM_STMT_SEND_LONG_DATA is
// buffered and replayed before the execute. A statement executed with a
// cursor holds its backend until the cursor is read to its end, reset or
// closed (counted as Stats.CursorHolds; the pool sees it as pending
// results, not as a pin reason).
//
// # LAST_INSERT_ID, ROW_COUNT, FOUND_ROWS
//
// The insert id of every OK packet is kept per client. Before a statement
// that reads LAST_INSERT_ID() (or @@last_insert_id / @@identity), the
// listener runs DO LAST_INSERT_ID(n) on the borrowed backend if that
// backend's value differs, so INSERT followed by SELECT LAST_INSERT_ID() as
// two round trips returns the client's id while multiplexed, without
// pinning. Limits: the OK packet carries the id of an explicit value
// inserted into an AUTO_INCREMENT column too, where the server's
// LAST_INSERT_ID() would not change; a write that returns rows (INSERT ...
// RETURNING, CALL) makes the value unknown until the next insert.
//
// ROW_COUNT(), FOUND_ROWS(), SHOW WARNINGS, GET DIAGNOSTICS and the like
// read what the session's previous statement left on its connection. They
// do not pin: the session asks the pool for that very connection
// (pool.Session.AcquireFor), which it gets when it still holds it (in a
// transaction, pinned) or when no other session has borrowed it since; if
// another session took it, the statement is refused with an error saying so
// (counted in Stats.LookBehindLost) rather than run elsewhere and answer
// with another session's value. SQL_CALC_FOUND_ROWS followed by FOUND_ROWS()
// is served the same way. Run such pairs in a transaction when they must
// never fail under contention. A prepared statement that reads them is
// prepared on that connection first if it is not cached there.
//
// # Other commands
//
// COM_PING and COM_SET_OPTION are answered without a backend (the
// multi-statements option is the client's own: batches from a client that
// did not enable it are refused). COM_INIT_DB and USE are tracked.
// COM_FIELD_LIST and COM_STATISTICS are relayed. LOAD DATA LOCAL INFILE
// works as on a direct connection for clients that enable it: the server's
// file request is relayed and the file streamed to the backend packet by
// packet, whatever its size; a client that goes away mid-file has its
// backend closed (the statement rolls back); Server.DisableLocalInfile
// refuses it (infile.go). COM_PROCESS_KILL,
// replication and other administrative commands are refused with
// ER_UNKNOWN_COM_ERROR. A KILL statement is relayed like any other and acts
// on backend connection ids (CONNECTION_ID() returns the borrowed backend's
// id), not on the listener's client ids.
//
// # Failures
//
// Every error code the listener sends is a server-side one: client libraries
// built on libmariadb reject client-side codes (2000-2999) in an error packet
// as a malformed packet. When the pool's borrow timeout fires, the client
// gets error 9501 (as RDS Proxy sends) with the pool's message and keeps its
// connection. When a backend dies during a command, the client gets error
// 1158 (SQLSTATE 08S01, "Lost connection to the database during query") and
// keeps its connection; if its transaction or pinned state died with the
// backend, it is disconnected after the error, as a server crash would do. A
// malformed or oversized packet closes that client only. When no backend
// can be opened, the client gets 1429 ("Unable to connect to the database
// behind the rdsmux listener", SQLSTATE HY000); when the database refuses the
// listener's own credentials for the client's backend account, 1045 with a
// message that names neither that account nor the listener's host (a Warn
// log line has the server's message).
//
// A client that goes away while its command runs (go-sql-driver closes the
// connection when a context is cancelled; processes die; Lambda times
// out) is noticed within about half a second rather than when the command
// ends: the listener checks the clients whose command has run for a while
// with poll(2) for a closed peer (Linux; elsewhere they are noticed at the
// command's end). A wait for a backend then ends; a running statement is
// stopped with KILL QUERY, sent over a control connection of the same
// account outside the pool (closed after a minute unused), before the
// backend's slot is freed, and that backend is closed rather than reused.
// Stats.ClientsVanishedMidCommand and Stats.VanishedStatementsKilled count
// them.
//
// # Performance
//
// Each client has one goroutine that reads a command, relays it on the
// borrowed backend and writes the response: no channel hops between
// goroutines, no allocation per relayed statement in steady state, each
// packet copied once from the backend's read buffer into the client's write
// buffer, and one write per response (or per 16 KiB of it). A relayed
// statement costs the listener two writes and two reads that return data
// (plus, when the peer has not answered yet, a read that finds nothing
// before the goroutine parks) — what a plain TCP relay needs too — and
// about a microsecond of classification and pool bookkeeping. On a small
// machine that runs the clients, the listener and the database together,
// those system calls and the wake-ups they cause dominate: a statement as
// cheap as a primary-key lookup then runs at about half the direct
// throughput through any relaying proxy (HAProxy included), while heavier
// work is less affected. bench/sysbench.sh measures sysbench direct and
// through the listener side by side (with RELAY=1 through a plain TCP relay
// too, with HAPROXY=1 through HAProxy).
//
// Each of those reads and writes enters the Go runtime's syscall path, which
// wakes the runtime's monitor thread (sysmon) whenever it was in its deep
// sleep, as it is between packets when the process is otherwise idle: at
// one client this added about 30 µs to each relayed statement on a 2-core
// VM. Start a program that embeds the Server with
// GODEBUG=schedtrace=2147483647 in its environment to keep sysmon out of
// that sleep (cmd/rdsmux does this to itself; see cmd/rdsmux/scheduler.go).
package proxy
