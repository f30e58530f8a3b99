package pinning

import (
	"testing"
	"time"
)

// benchStatements are typical statements, most of them 100-300 bytes.
var benchStatements = []struct {
	name string
	sql  string
}{
	{"point-select", "SELECT `users`.`id`, `users`.`email`, `users`.`name`, `users`.`created_at` FROM `users` WHERE `users`.`id` = 12345 AND `users`.`deleted_at` IS NULL LIMIT 1"},
	{"insert", "INSERT INTO `orders` (`user_id`, `status`, `total_cents`, `currency`, `note`, `created_at`, `updated_at`) VALUES (12345, 'pending', 4999, 'EUR', 'leave at the door; ring twice', '2024-05-01 10:00:00.123', '2024-05-01 10:00:00.123')"},
	{"update", "UPDATE `orders` SET `status` = 'paid', `paid_at` = '2024-05-01 10:00:00', `updated_at` = '2024-05-01 10:00:00' WHERE `orders`.`id` = 987654 AND `orders`.`status` = 'pending'"},
	{"join-select", "SELECT o.id, o.total_cents, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.status IN ('paid', 'shipped') AND o.created_at > '2024-01-01' ORDER BY o.created_at DESC LIMIT 50"},
	{"begin", "BEGIN"},
	{"commit", "COMMIT"},
	{"set-names", "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci"},
	{"set-autocommit", "SET autocommit=0"},
	{"set-sql-mode", "set session sql_mode='ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"},
	{"set-isolation", "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"},
	{"rails-preamble", "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci,  @@SESSION.sql_mode = CONCAT(CONCAT(@@sql_mode, ',STRICT_ALL_TABLES'), ',NO_AUTO_VALUE_ON_ZERO'),  @@SESSION.sql_auto_is_null = 0, @@SESSION.wait_timeout = 2147483"},
	{"user-variable", "SELECT @rank := @rank + 1 AS rank, id, score FROM scores ORDER BY score DESC"},
	{"batch", "BEGIN; INSERT INTO audit (user_id, action) VALUES (1, 'login'); UPDATE users SET last_login = NOW() WHERE id = 1; COMMIT"},
}

func BenchmarkClassify(b *testing.B) {
	c := NewClassifier()
	for _, bs := range benchStatements {
		b.Run(bs.name, func(b *testing.B) {
			var r Result
			b.SetBytes(int64(len(bs.sql)))
			b.ReportAllocs()
			for b.Loop() {
				c.Classify(bs.sql, &r)
			}
		})
	}
}

// BenchmarkClassifyTokenPath classifies the same statements reading every
// token through advanceAny (the skimmer's test reference, close to the
// classifier before the skimmer): run with BenchmarkClassify, the ratio of
// the two is the skimmer's gain measured under the same load.
func BenchmarkClassifyTokenPath(b *testing.B) {
	c := tokensOnly()
	for _, bs := range benchStatements {
		b.Run(bs.name, func(b *testing.B) {
			var r Result
			b.SetBytes(int64(len(bs.sql)))
			b.ReportAllocs()
			for b.Loop() {
				c.Classify(bs.sql, &r)
			}
		})
	}
}

// BenchmarkSkimGain measures the skimmer against the token path on a
// shared, noisy machine: it alternates blocks of 64 calls of each, so that
// load from other processes falls on both alike, and reports each one's
// ns/op and their ratio (skim/tokens; lower is better).
func BenchmarkSkimGain(b *testing.B) {
	skim, tokens := NewClassifier(), tokensOnly()
	for _, bs := range benchStatements {
		b.Run(bs.name, func(b *testing.B) {
			var r Result
			var ts, tt time.Duration
			n := 0
			for b.Loop() {
				t0 := time.Now()
				for range 64 {
					skim.Classify(bs.sql, &r)
				}
				t1 := time.Now()
				for range 64 {
					tokens.Classify(bs.sql, &r)
				}
				ts += t1.Sub(t0)
				tt += time.Since(t1)
				n += 64
			}
			b.ReportMetric(float64(ts.Nanoseconds())/float64(n), "skim-ns/op")
			b.ReportMetric(float64(tt.Nanoseconds())/float64(n), "tokens-ns/op")
			b.ReportMetric(float64(ts)/float64(tt), "skim/tokens")
		})
	}
}

// BenchmarkLex is the cost of lexing alone, for comparison.
func BenchmarkLex(b *testing.B) {
	sql := benchStatements[0].sql
	b.SetBytes(int64(len(sql)))
	b.ReportAllocs()
	for b.Loop() {
		l := lexer{src: sql}
		for l.next().kind != tkEOF {
		}
	}
}

// BenchmarkSettingsDiff is the cost of computing the statement that
// brings a backend to a session's settings.
func BenchmarkSettingsDiff(b *testing.B) {
	c := NewClassifier()
	var r Result
	var from, to Settings
	c.Classify("SET NAMES utf8mb4, time_zone = '+00:00', sql_mode = 'STRICT_TRANS_TABLES'", &r)
	r.Apply(&from)
	c.Classify("SET NAMES latin1, time_zone = '+01:00', autocommit = 0, sql_mode = 'STRICT_TRANS_TABLES'", &r)
	r.Apply(&to)
	b.ReportAllocs()
	for b.Loop() {
		_ = to.Diff(&from)
	}
}

var sinkInt int

// BenchmarkBaselineByteLoop is a reference for reading the other numbers on
// a shared, noisy machine: one table lookup per byte of the point-select
// statement, the least any lexer must do. Compare ratios, not ns/op.
func BenchmarkBaselineByteLoop(b *testing.B) {
	s := benchStatements[0].sql
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		n := 0
		for i := 0; i < len(s); i++ {
			if byteClass[s[i]]&clIdent != 0 {
				n++
			}
		}
		sinkInt = n
	}
}
