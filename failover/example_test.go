package failover_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/failover"
)

// A monitor over a static provider: the simplest cluster, one host that is
// always the writer. Code written against a Monitor works unchanged when
// the provider is swapped for NewReadOnly or NewAurora.
func ExampleNewMonitor() {
	m, err := failover.NewMonitor(failover.MonitorConfig{Provider: failover.NewStatic("127.0.0.1:3306")})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	w, err := m.WaitWriter(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(w.Addr, w.Role)
	// Output: 127.0.0.1:3306 writer
}

// Aurora instance addresses come from a host pattern, derived from the
// cluster endpoint when not configured.
func ExampleHostPatternFromEndpoint() {
	pattern, err := failover.HostPatternFromEndpoint("mycluster.cluster-abc123.us-east-1.rds.amazonaws.com:3306")
	if err != nil {
		log.Fatal(err)
	}
	addr, _ := failover.InstanceAddr(pattern, "mycluster-instance-2", failover.DefaultPort)
	fmt.Println(pattern)
	fmt.Println(addr)
	// Output:
	// ?.abc123.us-east-1.rds.amazonaws.com:3306
	// mycluster-instance-2.abc123.us-east-1.rds.amazonaws.com:3306
}

// A database/sql pool that follows the writer of a primary/replica pair
// through a failover.
func ExampleNewConnector() {
	creds := mysql.NewConfig()
	creds.User, creds.Passwd, creds.DBName = "app", "secret", "shop"

	provider, err := failover.NewReadOnly(failover.ReadOnlyConfig{
		Hosts: []string{"10.0.1.10:3306", "10.0.2.10:3306"},
		Probe: failover.ProbeConfig{MySQL: creds},
	})
	if err != nil {
		log.Fatal(err)
	}
	m, err := failover.NewMonitor(failover.MonitorConfig{Provider: provider})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	m.Subscribe(func(ev failover.Event) {
		if ev.Kind == failover.EventFailoverCompleted {
			log.Printf("writer %s after %v", ev.To.Addr, ev.Duration)
		}
	})
	// A pool with Invalidate (package pool) would also do:
	//   m.InvalidateOnWriterChange(p)

	connector, err := failover.NewConnector(failover.NewDialer(m, failover.DialerConfig{}),
		failover.ConnectorConfig{MySQL: creds})
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	if _, err := db.Exec("UPDATE stock SET n = n - 1 WHERE id = 7"); err != nil {
		// A write whose connection was lost may have run: never retried.
		log.Printf("update failed (%s): %v", failover.Classify(err), err)
	}
}

// Deciding whether a failed statement may run again.
func ExampleShouldRetry() {
	lost := failover.WrapStatementError(mysql.ErrInvalidConn, false, "10.0.1.10:3306")
	fmt.Println(failover.ShouldRetry(lost, true, false))  // a read-only autocommit SELECT
	fmt.Println(failover.ShouldRetry(lost, false, false)) // a write: it may have been applied

	inTx := failover.WrapStatementError(mysql.ErrInvalidConn, true, "10.0.1.10:3306")
	fmt.Println(errors.Is(inTx, failover.ErrTransactionResolutionUnknown))
	// Output:
	// true
	// false
	// true
}
