package proxy

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rdsmux/rdsmux/failover"
)

// TestPickReaderLeastBorrows: the reader with the fewest borrows out wins
// even with more connections open; open connections break a tie of
// borrows; a full tie goes round-robin; a down reader is never picked.
func TestPickReaderLeastBorrows(t *testing.T) {
	var l readerLoad
	top := failover.Topology{Readers: []failover.Host{{Addr: "a:1"}, {Addr: "b:1"}}}
	pick := func() string {
		t.Helper()
		h, ok := l.pickReader(&top)
		assert.True(t, ok)
		return h.Addr
	}
	// Nothing open: round-robin.
	assert.ElementsMatch(t, []string{"a:1", "b:1"}, []string{pick(), pick()})

	// a: 3 open, none borrowed; b: 1 open, borrowed.
	var as []*readerSlot
	for range 3 {
		as = append(as, l.opened("a:1"))
	}
	b := l.opened("b:1")
	b.borrowed(true)
	assert.Equal(t, "a:1", pick(), "fewest borrows out, though the most open")
	// Both with one borrow: fewer open wins.
	as[0].borrowed(true)
	assert.Equal(t, "b:1", pick(), "tie of borrows: fewest open")
	// b given back: b has none out.
	b.borrowed(false)
	assert.Equal(t, "b:1", pick())
	// a's borrow given back and its extra connections closed: full tie.
	as[0].borrowed(false)
	as[1].close()
	as[2].close()
	as[2].close() // once
	assert.Equal(t, map[string]int{"a:1": 1, "b:1": 1}, l.open)
	assert.Empty(t, l.out)
	assert.ElementsMatch(t, []string{"a:1", "b:1"}, []string{pick(), pick()})

	// a down: b, whatever the counts.
	b.borrowed(true)
	top.Down = []failover.Host{{Addr: "a:1"}}
	assert.Equal(t, "b:1", pick())
	top.Readers = top.Readers[:1]
	_, ok := l.pickReader(&top)
	assert.False(t, ok, "no usable reader")
}
