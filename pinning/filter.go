package pinning

import (
	"fmt"
	"strings"
)

// Filters are session pinning filters, as RDS Proxy's
// SessionPinningFilters: each one names a kind of statement that does not
// pin even though it would otherwise.
type Filters uint8

const (
	// ExcludeVariableSets (EXCLUDE_VARIABLE_SETS) makes SET statements
	// non-pinning: untracked variables, user variables assigned by SET,
	// SET TRANSACTION, session_track_* and sql_log_bin no longer pin. The
	// statement still runs; what it set is lost when the session moves to
	// another backend. Tracked variables are tracked as always, and pins
	// from functions called in a SET (GET_LOCK, ...) remain.
	ExcludeVariableSets Filters = 1 << iota

	allFilters = ExcludeVariableSets
)

var filterNames = [...]struct {
	f    Filters
	name string
}{
	{ExcludeVariableSets, "EXCLUDE_VARIABLE_SETS"},
}

// ParseFilters parses RDS Proxy's form of session pinning filters: names
// such as "EXCLUDE_VARIABLE_SETS", separated by commas or spaces, in any
// case. The empty string is no filters.
func ParseFilters(s string) (Filters, error) {
	var f Filters
	for _, name := range strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n'
	}) {
		found := false
		for _, fn := range filterNames {
			if strings.EqualFold(name, fn.name) {
				f |= fn.f
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("pinning: unknown session pinning filter %q (known: EXCLUDE_VARIABLE_SETS)", name)
		}
	}
	return f, nil
}

// String returns the filters in RDS Proxy's form, comma-separated.
func (f Filters) String() string {
	var names []string
	for _, fn := range filterNames {
		if f&fn.f != 0 {
			names = append(names, fn.name)
		}
	}
	if rest := f &^ allFilters; rest != 0 {
		names = append(names, fmt.Sprintf("0x%x", uint8(rest)))
	}
	return strings.Join(names, ",")
}
