package rdsmux

import (
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/fleet"
)

// fleetBudget returns the fleet budget a DSN's fleet parameters ask for, or
// nil without one. The budget's name defaults to the target's host:port.
func fleetBudget(cfg *Config, backendCfg *mysql.Config) (*fleet.Member, error) {
	if cfg.Fleet == "" {
		return nil, nil
	}
	name := cfg.FleetName
	if name == "" {
		name = backendCfg.Addr
	}
	m, err := fleet.New(fleet.Config{URL: cfg.Fleet, Name: name, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("rdsmux: fleet=%q: %w", redactURL(cfg.Fleet), err)
	}
	return m, nil
}

// redactURL hides a password in a Redis URL for error messages.
func redactURL(s string) string {
	m, err := fleet.RedactURL(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return m
}
