package wire

// Capability is a set of CLIENT_* capability flags, exchanged in the
// handshake. The flags both sides set are in effect for the connection. The
// upper 32 bits are MariaDB's extended capabilities (MARIADB_CLIENT_*), as
// MariaDB numbers them: they are exchanged only when neither side sets
// ClientLongPassword ("CLIENT_MYSQL").
type Capability uint64

// Capability flags.
const (
	ClientLongPassword               Capability = 1 << 0 // CLIENT_LONG_PASSWORD; MariaDB: CLIENT_MYSQL
	ClientFoundRows                  Capability = 1 << 1
	ClientLongFlag                   Capability = 1 << 2
	ClientConnectWithDB              Capability = 1 << 3
	ClientNoSchema                   Capability = 1 << 4
	ClientCompress                   Capability = 1 << 5 // never negotiated by this package
	ClientODBC                       Capability = 1 << 6
	ClientLocalFiles                 Capability = 1 << 7
	ClientIgnoreSpace                Capability = 1 << 8
	ClientProtocol41                 Capability = 1 << 9
	ClientInteractive                Capability = 1 << 10
	ClientSSL                        Capability = 1 << 11
	ClientIgnoreSIGPIPE              Capability = 1 << 12
	ClientTransactions               Capability = 1 << 13
	ClientReserved                   Capability = 1 << 14
	ClientSecureConnection           Capability = 1 << 15
	ClientMultiStatements            Capability = 1 << 16
	ClientMultiResults               Capability = 1 << 17
	ClientPSMultiResults             Capability = 1 << 18
	ClientPluginAuth                 Capability = 1 << 19
	ClientConnectAttrs               Capability = 1 << 20
	ClientPluginAuthLenencClientData Capability = 1 << 21
	ClientCanHandleExpiredPasswords  Capability = 1 << 22
	ClientSessionTrack               Capability = 1 << 23
	ClientDeprecateEOF               Capability = 1 << 24
	ClientOptionalResultsetMetadata  Capability = 1 << 25
	ClientZstdCompression            Capability = 1 << 26 // never negotiated by this package
	ClientQueryAttributes            Capability = 1 << 27
	ClientMultiFactorAuth            Capability = 1 << 28
	ClientSSLVerifyServerCert        Capability = 1 << 30
	ClientRememberOptions            Capability = 1 << 31

	MariaDBClientProgress           Capability = 1 << 32 // progress reports; never negotiated by this package
	MariaDBClientComMulti           Capability = 1 << 33 // never negotiated by this package
	MariaDBClientStmtBulkOperations Capability = 1 << 34 // COM_STMT_BULK_EXECUTE; never negotiated by this package
	MariaDBClientExtendedMetadata   Capability = 1 << 35 // column definitions carry extended type info (json, uuid...)
	MariaDBClientCacheMetadata      Capability = 1 << 36 // column counts carry a metadata-follows byte; offered by a ServerConn only (see serverOnlyCaps)
	MariaDBClientBulkUnitResults    Capability = 1 << 38 // never negotiated by this package
	mariaDBCaps                     Capability = 0xffffffff << 32
	mariaDBSupportedCaps            Capability = MariaDBClientExtendedMetadata
)

// MariaDB returns the extended (MariaDB) part of c, as the 32-bit value sent
// in the handshake packets.
func (c Capability) MariaDB() uint32 { return uint32(c >> 32) }

// Has reports whether all flags of f are set in c.
func (c Capability) Has(f Capability) bool { return c&f == f }

// unsupportedCaps are capabilities a ClientConn never asks for:
// compression, optional result-set metadata, query attributes,
// multi-factor authentication and MariaDB's extensions other than extended
// metadata change the packet formats in ways it does not implement. A
// ServerConn does not offer them either, except serverOnlyCaps.
const unsupportedCaps = ClientCompress | ClientZstdCompression | ClientOptionalResultsetMetadata |
	ClientQueryAttributes | ClientMultiFactorAuth | ClientSSLVerifyServerCert | ClientRememberOptions |
	mariaDBCaps&^mariaDBSupportedCaps

// serverOnlyCaps are capabilities a ServerConn offers when configured to,
// though a ClientConn never asks for them: with MariaDB's metadata cache,
// every column count packet the server's user writes carries the
// metadata-follows byte (AppendColumnCount), and the user decides when a
// prepared statement's column definitions are left out.
const serverOnlyCaps = MariaDBClientCacheMetadata

// Status is a set of SERVER_STATUS_* flags, sent in OK and EOF packets.
type Status uint16

// Server status flags.
const (
	StatusInTrans             Status = 0x0001 // a transaction is open
	StatusAutocommit          Status = 0x0002
	StatusMoreResultsExist    Status = 0x0008 // another result follows this one
	StatusNoGoodIndexUsed     Status = 0x0010
	StatusNoIndexUsed         Status = 0x0020
	StatusCursorExists        Status = 0x0040 // COM_STMT_EXECUTE opened a cursor
	StatusLastRowSent         Status = 0x0080 // COM_STMT_FETCH reached the end of the cursor
	StatusDBDropped           Status = 0x0100
	StatusNoBackslashEscapes  Status = 0x0200
	StatusMetadataChanged     Status = 0x0400
	StatusQueryWasSlow        Status = 0x0800
	StatusPSOutParams         Status = 0x1000
	StatusInTransReadonly     Status = 0x2000
	StatusSessionStateChanged Status = 0x4000 // the OK packet carries session-state-change data
)

// Has reports whether all flags of f are set in s.
func (s Status) Has(f Status) bool { return s&f == f }

// Command is the first byte of a command packet.
type Command byte

// Command bytes.
const (
	ComSleep            Command = 0x00
	ComQuit             Command = 0x01
	ComInitDB           Command = 0x02
	ComQuery            Command = 0x03
	ComFieldList        Command = 0x04
	ComCreateDB         Command = 0x05
	ComDropDB           Command = 0x06
	ComRefresh          Command = 0x07
	ComShutdown         Command = 0x08
	ComStatistics       Command = 0x09
	ComProcessInfo      Command = 0x0a
	ComConnect          Command = 0x0b
	ComProcessKill      Command = 0x0c
	ComDebug            Command = 0x0d
	ComPing             Command = 0x0e
	ComTime             Command = 0x0f
	ComDelayedInsert    Command = 0x10
	ComChangeUser       Command = 0x11
	ComBinlogDump       Command = 0x12
	ComTableDump        Command = 0x13
	ComConnectOut       Command = 0x14
	ComRegisterSlave    Command = 0x15
	ComStmtPrepare      Command = 0x16
	ComStmtExecute      Command = 0x17
	ComStmtSendLongData Command = 0x18
	ComStmtClose        Command = 0x19
	ComStmtReset        Command = 0x1a
	ComSetOption        Command = 0x1b
	ComStmtFetch        Command = 0x1c
	ComDaemon           Command = 0x1d
	ComBinlogDumpGTID   Command = 0x1e
	ComResetConnection  Command = 0x1f
	ComStmtBulkExecute  Command = 0xfa // MariaDB
)

var commandNames = [...]string{
	ComSleep: "COM_SLEEP", ComQuit: "COM_QUIT", ComInitDB: "COM_INIT_DB", ComQuery: "COM_QUERY",
	ComFieldList: "COM_FIELD_LIST", ComCreateDB: "COM_CREATE_DB", ComDropDB: "COM_DROP_DB",
	ComRefresh: "COM_REFRESH", ComShutdown: "COM_SHUTDOWN", ComStatistics: "COM_STATISTICS",
	ComProcessInfo: "COM_PROCESS_INFO", ComConnect: "COM_CONNECT", ComProcessKill: "COM_PROCESS_KILL",
	ComDebug: "COM_DEBUG", ComPing: "COM_PING", ComTime: "COM_TIME", ComDelayedInsert: "COM_DELAYED_INSERT",
	ComChangeUser: "COM_CHANGE_USER", ComBinlogDump: "COM_BINLOG_DUMP", ComTableDump: "COM_TABLE_DUMP",
	ComConnectOut: "COM_CONNECT_OUT", ComRegisterSlave: "COM_REGISTER_SLAVE",
	ComStmtPrepare: "COM_STMT_PREPARE", ComStmtExecute: "COM_STMT_EXECUTE",
	ComStmtSendLongData: "COM_STMT_SEND_LONG_DATA", ComStmtClose: "COM_STMT_CLOSE",
	ComStmtReset: "COM_STMT_RESET", ComSetOption: "COM_SET_OPTION", ComStmtFetch: "COM_STMT_FETCH",
	ComDaemon: "COM_DAEMON", ComBinlogDumpGTID: "COM_BINLOG_DUMP_GTID",
	ComResetConnection: "COM_RESET_CONNECTION",
}

// String returns the command's protocol name, such as "COM_QUERY".
func (c Command) String() string {
	if int(c) < len(commandNames) {
		return commandNames[c]
	}
	if c == ComStmtBulkExecute {
		return "COM_STMT_BULK_EXECUTE"
	}
	return "COM_UNKNOWN(0x" + hexByte(byte(c)) + ")"
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xf]})
}

// Error codes (ER_*) that a proxy commonly sends or inspects.
const (
	ErConCountError         uint16 = 1040 // too many connections
	ErOutOfResources        uint16 = 1041
	ErHandshakeError        uint16 = 1043
	ErDBAccessDenied        uint16 = 1044
	ErAccessDenied          uint16 = 1045
	ErNoDB                  uint16 = 1046
	ErUnknownComError       uint16 = 1047
	ErBadDB                 uint16 = 1049
	ErServerShutdown        uint16 = 1053
	ErUnknownError          uint16 = 1105
	ErNetPacketTooLarge     uint16 = 1153
	ErNetReadError          uint16 = 1158
	ErNetReadInterrupted    uint16 = 1159
	ErNetErrorOnWrite       uint16 = 1160
	ErLockWaitTimeout       uint16 = 1205
	ErLockDeadlock          uint16 = 1213
	ErNotSupportedYet       uint16 = 1235
	ErUnknownStmtHandler    uint16 = 1243
	ErNotSupportedAuthMode  uint16 = 1251
	ErOptionPreventsStmt    uint16 = 1290
	ErQueryInterrupted      uint16 = 1317
	ErConnectionKilled      uint16 = 1927 // MariaDB
	ErSecureTransportNeeded uint16 = 3159 // MySQL's ER_SECURE_TRANSPORT_REQUIRED
	ErNotAllowedCommand     uint16 = 1148 // e.g. LOAD DATA LOCAL INFILE refused
	// ErConnectToForeignDataSource is ER_CONNECT_TO_FOREIGN_DATA_SOURCE,
	// "Unable to connect to foreign data source".
	ErConnectToForeignDataSource uint16 = 1429
)

// SQLSTATE values that go with the error codes above.
const (
	StateGeneral          = "HY000"
	StateAccessDenied     = "28000"
	StateConnRejected     = "08004" // server rejected the connection (too many connections)
	StateCommLink         = "08S01" // communication link failure, handshake error, packet too large
	StateSyntaxOrAccess   = "42000" // unknown command, bad database, not allowed command
	StateNoDB             = "3D000"
	StateUnknownStmt      = "HY000"
	StateLockDeadlock     = "40001"
	StateQueryInterrupted = "70100"
)

// Field types of column definitions and binary-protocol values.
const (
	TypeDecimal    byte = 0x00
	TypeTiny       byte = 0x01
	TypeShort      byte = 0x02
	TypeLong       byte = 0x03
	TypeFloat      byte = 0x04
	TypeDouble     byte = 0x05
	TypeNull       byte = 0x06
	TypeTimestamp  byte = 0x07
	TypeLongLong   byte = 0x08
	TypeInt24      byte = 0x09
	TypeDate       byte = 0x0a
	TypeTime       byte = 0x0b
	TypeDatetime   byte = 0x0c
	TypeYear       byte = 0x0d
	TypeNewDate    byte = 0x0e
	TypeVarchar    byte = 0x0f
	TypeBit        byte = 0x10
	TypeJSON       byte = 0xf5
	TypeNewDecimal byte = 0xf6
	TypeEnum       byte = 0xf7
	TypeSet        byte = 0xf8
	TypeTinyBlob   byte = 0xf9
	TypeMediumBlob byte = 0xfa
	TypeLongBlob   byte = 0xfb
	TypeBlob       byte = 0xfc
	TypeVarString  byte = 0xfd
	TypeString     byte = 0xfe
	TypeGeometry   byte = 0xff
)

// Column definition flags.
const (
	FlagNotNull  uint16 = 0x0001
	FlagPriKey   uint16 = 0x0002
	FlagBinary   uint16 = 0x0080
	FlagUnsigned uint16 = 0x0020
)

// Character set / collation ids.
const (
	CharsetUTF8MB4GeneralCI byte = 45
	CharsetBinary           byte = 63
)
