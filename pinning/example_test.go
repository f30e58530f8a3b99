package pinning_test

import (
	"fmt"

	"github.com/rdsmux/rdsmux/pinning"
)

func ExampleClassifier_Classify() {
	c := pinning.NewClassifier()
	var r pinning.Result // reuse one Result: Classify resets it

	c.Classify("SELECT id FROM users WHERE email = 'a@b.c'", &r)
	fmt.Println(r.Pinned(), r.ReadOnly)

	c.Classify("SET NAMES utf8mb4, time_zone = '+0:00', autocommit = 0", &r)
	tz, _ := r.Settings.Get(pinning.VarTimeZone)
	fmt.Println(r.Pinned(), tz, r.Tx.Has(pinning.TxSetAutocommit))

	c.Classify("SET @@SESSION.sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')", &r)
	fmt.Println(r.ReadBackQuery(pinning.SpellCanonical))

	c.Classify("SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10; SELECT FOUND_ROWS()", &r)
	fmt.Println(r.Statements, r.Pins)

	c.Classify("INSERT INTO t (a) VALUES (1); SELECT LAST_INSERT_ID()", &r)
	fmt.Println(r.Pinned(), r.ReadsLastInsertID)
	// Output:
	// false true
	// false '+00:00' true
	// SELECT @@SESSION.sql_mode
	// 2 found-rows
	// false true
}

func ExampleSettings_Diff() {
	c := pinning.NewClassifier()
	var r pinning.Result
	var backend, session pinning.Settings

	c.Classify("SET NAMES latin1 COLLATE latin1_bin, wait_timeout = 60", &r)
	r.Apply(&backend)
	c.Classify("SET NAMES utf8mb4, time_zone = 'SYSTEM'", &r)
	r.Apply(&session)

	fmt.Println(session.Diff(&backend))
	// Output:
	// SET SESSION character_set_client='utf8mb4', character_set_connection='utf8mb4', character_set_results='utf8mb4', time_zone='SYSTEM', wait_timeout=DEFAULT
}

func ExampleParseFilters() {
	f, err := pinning.ParseFilters("EXCLUDE_VARIABLE_SETS")
	if err != nil {
		panic(err)
	}
	c := pinning.NewClassifier(pinning.WithFilters(f))
	var r pinning.Result
	c.Classify("SET @x = 1, profiling = 1", &r)
	fmt.Println(f, r.Pinned())
	// Output:
	// EXCLUDE_VARIABLE_SETS false
}
