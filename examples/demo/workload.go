package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
)

// querier is what a handler's database work needs: a *sql.Conn (direct),
// a *sql.DB or an rdsmux.Session.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// requestKind is what one handler invocation does. The mix is the same in
// every phase: mostly point reads, some short transactions, and a few
// requests that set a user variable the way legacy code does, which pins
// the session in RDS Proxy and in rdsmux alike.
type requestKind int

const (
	readItem    requestKind = iota // SELECT by primary key
	reserveItem                    // BEGIN; SELECT ... FOR UPDATE; UPDATE; COMMIT
	tagRequest                     // SET @request_id; SELECT @request_id (pins)
)

// kindOf spreads the kinds over request numbers: 1% tag, 9% reserve.
func kindOf(n uint64) requestKind {
	switch r := n % 100; {
	case r == 0:
		return tagRequest
	case r < 10:
		return reserveItem
	default:
		return readItem
	}
}

// doRequest runs one request's statements on q.
func doRequest(ctx context.Context, q querier, kind requestKind, rng *rand.Rand, n uint64) error {
	id := 1 + rng.IntN(demoRows)
	switch kind {
	case reserveItem:
		return reserve(ctx, q, id)
	case tagRequest:
		return tag(ctx, q, n)
	default:
		var name string
		var stock int
		return q.QueryRowContext(ctx, "SELECT name, stock FROM "+demoTable+" WHERE id = ?", id).Scan(&name, &stock)
	}
}

func reserve(ctx context.Context, q querier, id int) error {
	tx, err := q.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var stock int
	if err := tx.QueryRowContext(ctx, "SELECT stock FROM "+demoTable+" WHERE id = ? FOR UPDATE", id).Scan(&stock); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+demoTable+" SET stock = ? WHERE id = ?", stock-1, id); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func tag(ctx context.Context, q querier, n uint64) error {
	if _, err := q.ExecContext(ctx, "SET @request_id = ?", n); err != nil {
		return err
	}
	var got uint64
	if err := q.QueryRowContext(ctx, "SELECT @request_id").Scan(&got); err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("@request_id = %d, want %d: session state leaked between requests", got, n)
	}
	return nil
}
