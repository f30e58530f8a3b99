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
	require.NoError(t, err, "types %x %v, want %x", types, err, e.ParamTypes)
	require.True(t, bytes.Equal(types, e.ParamTypes), "types %x %v, want %x", types, err, e.ParamTypes)
	e.NewParamsBound = false
	p = wire.AppendStmtExecute(nil, e)
	types, err = paramTypes(p, 3)
	require.NoError(t, err, "unbound: %x %v", types, err)
	require.Nil(t, types, "unbound: %x %v", types, err)
	_, err = paramTypes(p[:10], 3)
	require.Error(t, err, "truncated packet accepted")
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
		require.False(t, err == nil && n > 0 && rerr != nil, "paramTypes accepted what ParseStmtExecute rejects: %v", rerr)
		if rerr != nil {
			return // ref is nil: nothing to compare
		}
		require.False(t, err == nil && types != nil && !bytes.Equal(types, ref.ParamTypes), "types %x, ParseStmtExecute %x", types, ref.ParamTypes)
	})
}

func TestStmtCacheLRU(t *testing.T) {
	var c stmtCache
	c.init(2)
	a := &backendStmt{key: stmtKey{"s", "a"}}
	b := &backendStmt{key: stmtKey{"s", "b"}}
	d := &backendStmt{key: stmtKey{"s", "d"}}
	require.Nil(t, c.add(a), "eviction below the bound")
	require.Nil(t, c.add(b), "eviction below the bound")
	require.Same(t, a, c.get(stmtKey{"s", "a"}), "get a") // a is now the most recent
	ev := c.add(d)
	require.Same(t, b, ev, "evicted %v, want b", ev)
	require.Nil(t, c.get(stmtKey{"s", "b"}), "b still cached")
	require.Equal(t, 2, c.len(), "b still cached")
	c.remove(a)
	require.Nil(t, c.get(stmtKey{"s", "a"}), "remove")
	require.Equal(t, 1, c.len(), "remove")
	require.Same(t, d, c.head, "remove")
	require.Same(t, d, c.tail, "remove")
	c.clear()
	require.Equal(t, 0, c.len(), "clear")
	require.Nil(t, c.head, "clear")
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
		if tc.want {
			if assert.ErrorAs(t, got, &e, "markAccessDenied(%v) = %v: the *wire.Error is lost", tc.err, got) {
				assert.Equal(t, wire.ErAccessDenied, e.Code, "markAccessDenied(%v) = %v: the *wire.Error is lost", tc.err, got)
			}
		} else {
			assert.True(t, got == tc.err, "markAccessDenied(%v) = %v, want it unchanged", tc.err, got)
		}
	}
}
