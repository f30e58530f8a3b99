package proxy_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rdsmux/rdsmux/fleet"
	"github.com/rdsmux/rdsmux/internal/redistest"
)

// TestVanishKillCountsInFleetBudget: with a fleet budget of 2, the control
// connection that KILLs a vanished client's statement takes one of the
// two slots (the statement's backend holds the other), so the server
// never sees more than 2 connections of the listener, and the KILL is
// still sent.
func TestVanishKillCountsInFleetBudget(t *testing.T) {
	r := redistest.Start(t)
	m, err := fleet.New(fleet.Config{URL: r.URL(), Name: "vanish"})
	require.NoError(t, err)
	e := startEnv(t, withBackends(2), withBorrowTimeout(60*time.Second), func(c *envConfig) { c.budget = m })
	db := e.open(t, "")
	root := e.db.DB(t)
	c := e.conn(t, db)
	require.Error(t, startCancelled(t, root, c, "SELECT SLEEP(60) FROM users WHERE id = 1 /* vanish-fleet */", "vanish-fleet"), "the cancelled statement succeeded")
	waitFor(t, "the server no longer runs the statement", 20*time.Second, func() bool { return !running(t, root, "vanish-fleet") })
	waitFor(t, "the listener counts the kill", 10*time.Second, func() bool { return e.srv.Stats().VanishedStatementsKilled == 1 })
	got := e.db.ConnectionsOf(t, appUser)
	assert.LessOrEqual(t, got, 2, "server sees %d connections of %s, want at most 2 (the fleet budget)", got, appUser)
	st := e.srv.Stats().Pool
	require.NotNil(t, st.Fleet, "Stats().Pool.Fleet = %+v, want a budget of 2", st.Fleet)
	require.Equal(t, 2, st.Fleet.Total, "Stats().Pool.Fleet = %+v, want a budget of 2", st.Fleet)
	assert.LessOrEqual(t, st.MaxDatabaseConnectionsAllowed, 2, "cap %d over the budget of 2", st.MaxDatabaseConnectionsAllowed)
	// The control connection's slot is given back when the listener
	// closes it (idle, or at Close); it is counted in the pool meanwhile.
	assert.LessOrEqual(t, st.DatabaseConnections, 2, "pool counts %d connections, want at most 2", st.DatabaseConnections)
}
