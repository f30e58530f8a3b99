package proxy

// DefaultStatementCacheSize is how many prepared statements a backend
// connection keeps by default; the least recently used is closed beyond it.
const DefaultStatementCacheSize = 256

// backendStmt is a statement prepared on one backend connection.
type backendStmt struct {
	key        stmtKey
	id         uint32 // the server's statement id on this connection
	numParams  uint16
	numColumns uint16
	// params and columns are the definition packets of the prepare
	// response (copies), from which clients' prepare answers are built.
	params, columns [][]byte
	// types are the parameter types the server last received for this
	// statement (2 bytes per parameter); nil before any were sent. An
	// execute that does not bind types uses these on the server.
	types []byte
	// checked: the PREPARE ran with no transaction open and no LOCK
	// TABLES, so the checks the server makes at PREPARE (1792 in a READ
	// ONLY transaction, 1100 for a table not locked) were those of the
	// key's state alone; a client's PREPARE may be served from it.
	checked bool

	prev, next *backendStmt // LRU list, most recently used at head
}

// stmtCache is a bounded LRU of a backend connection's prepared statements.
// It is owned by the goroutine that holds the connection.
type stmtCache struct {
	size       int // maximum entries
	m          map[stmtKey]*backendStmt
	head, tail *backendStmt
}

func (c *stmtCache) init(size int) {
	if size <= 0 {
		size = DefaultStatementCacheSize
	}
	c.size = size
	c.m = make(map[stmtKey]*backendStmt)
}

// get returns the statement for key and makes it the most recently used.
func (c *stmtCache) get(key stmtKey) *backendStmt {
	s := c.m[key]
	if s != nil && s != c.head {
		c.unlink(s)
		c.pushFront(s)
	}
	return s
}

// add inserts s and returns the entry evicted to make room (to be closed on
// the server), or nil.
func (c *stmtCache) add(s *backendStmt) (evicted *backendStmt) {
	if len(c.m) >= c.size && c.tail != nil {
		evicted = c.tail
		c.unlink(evicted)
		delete(c.m, evicted.key)
	}
	c.m[s.key] = s
	c.pushFront(s)
	return evicted
}

// remove drops s (after it failed on the server).
func (c *stmtCache) remove(s *backendStmt) {
	if c.m[s.key] == s {
		delete(c.m, s.key)
		c.unlink(s)
	}
}

// clear forgets every entry (the server dropped them).
func (c *stmtCache) clear() {
	clear(c.m)
	c.head, c.tail = nil, nil
}

func (c *stmtCache) len() int { return len(c.m) }

func (c *stmtCache) pushFront(s *backendStmt) {
	s.prev, s.next = nil, c.head
	if c.head != nil {
		c.head.prev = s
	}
	c.head = s
	if c.tail == nil {
		c.tail = s
	}
}

func (c *stmtCache) unlink(s *backendStmt) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		c.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		c.tail = s.prev
	}
	s.prev, s.next = nil, nil
}
