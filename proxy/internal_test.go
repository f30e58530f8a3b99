package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/iamauth"

	"github.com/rdsmux/rdsmux/proxy/wire"
)

func TestParamTypes(t *testing.T) {
	e := &wire.StmtExecute{StatementID: 7, Iterations: 1}
	require.NoError(t, wire.BindParams(e, []any{int64(1), "x", nil}))
	p := wire.AppendStmtExecute(nil, e)
	types, err := paramTypes(p, 3)
	if err != nil || !bytes.Equal(types, e.ParamTypes) {
		t.Fatalf("types %x %v, want %x", types, err, e.ParamTypes)
	}
	e.NewParamsBound = false
	p = wire.AppendStmtExecute(nil, e)
	if types, err := paramTypes(p, 3); err != nil || types != nil {
		t.Fatalf("unbound: %x %v", types, err)
	}
	if _, err := paramTypes(p[:10], 3); err == nil {
		t.Fatal("truncated packet accepted")
	}
}

// FuzzParamTypes: the COM_STMT_EXECUTE inspection never panics and agrees
// with wire.ParseStmtExecute.
func FuzzParamTypes(f *testing.F) {
	e := &wire.StmtExecute{StatementID: 1, Iterations: 1}
	_ = wire.BindParams(e, []any{int64(5), "abc"})
	f.Add(wire.AppendStmtExecute(nil, e), 2)
	f.Add([]byte{0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0}, 0)
	f.Add([]byte{0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 1)
	f.Fuzz(func(t *testing.T, p []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		types, err := paramTypes(p, n)
		if len(p) < 10 || p[0] != byte(wire.ComStmtExecute) {
			return
		}
		ref, rerr := wire.ParseStmtExecute(p, n)
		if err == nil && n > 0 && rerr != nil {
			t.Fatalf("paramTypes accepted what ParseStmtExecute rejects: %v", rerr)
		}
		if err == nil && rerr == nil && types != nil && !bytes.Equal(types, ref.ParamTypes) {
			t.Fatalf("types %x, ParseStmtExecute %x", types, ref.ParamTypes)
		}
	})
}

func TestStmtCacheLRU(t *testing.T) {
	var c stmtCache
	c.init(2)
	a := &backendStmt{key: stmtKey{"s", "a"}}
	b := &backendStmt{key: stmtKey{"s", "b"}}
	d := &backendStmt{key: stmtKey{"s", "d"}}
	if c.add(a) != nil || c.add(b) != nil {
		t.Fatal("eviction below the bound")
	}
	if c.get(stmtKey{"s", "a"}) != a { // a is now the most recent
		t.Fatal("get a")
	}
	if ev := c.add(d); ev != b {
		t.Fatalf("evicted %v, want b", ev)
	}
	if c.get(stmtKey{"s", "b"}) != nil || c.len() != 2 {
		t.Fatal("b still cached")
	}
	c.remove(a)
	if c.get(stmtKey{"s", "a"}) != nil || c.len() != 1 || c.head != d || c.tail != d {
		t.Fatal("remove")
	}
	c.clear()
	if c.len() != 0 || c.head != nil {
		t.Fatal("clear")
	}
}

// TestMarkAccessDenied: a backend's refusal of the credential (1045) is
// iamauth.ErrAccessDenied for iamauth.Connect, and still the server's
// *wire.Error; other errors pass as they are.
func TestMarkAccessDenied(t *testing.T) {
	denied := wire.NewError(wire.ErAccessDenied, wire.StateAccessDenied, "Access denied for user 'app'@'localhost' (using password: YES)")
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{denied, true},
		{fmt.Errorf("wire: %w", denied), true},
		{wire.NewError(wire.ErDBAccessDenied, wire.StateAccessDenied, "Access denied to database"), false},
		{errors.New("connection refused"), false},
	} {
		got := markAccessDenied(tc.err)
		assert.EqualValues(t, tc.want, iamauth.IsAccessDenied(got), "markAccessDenied(%v): IsAccessDenied = %v, want %v", tc.err, !tc.want, tc.want)
		var e *wire.Error
		if tc.want && (!errors.As(got, &e) || e.Code != wire.ErAccessDenied) {
			t.Errorf("markAccessDenied(%v) = %v: the *wire.Error is lost", tc.err, got)
		}
		if !tc.want && got != tc.err {
			t.Errorf("markAccessDenied(%v) = %v, want it unchanged", tc.err, got)
		}
	}
}
