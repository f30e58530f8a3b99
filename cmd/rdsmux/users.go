package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// userEntry is one client user: what clients authenticate with, and
// optionally the database account that serves them.
type userEntry struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	// BackendUser/BackendPassword: the database account for this client
	// user. Empty: -backend-user/-backend-password (or -backend-secret) if
	// given, else the client's own name and password.
	BackendUser     string `json:"backend_user,omitempty"`
	BackendPassword string `json:"backend_password,omitempty"`
}

// credentialsFile is the -credentials file format:
//
//	{"users": [
//	  {"name": "app", "password": "secret"},
//	  {"name": "report", "password": "s2", "backend_user": "ro", "backend_password": "db-pw"}
//	]}
type credentialsFile struct {
	Users []userEntry `json:"users"`
}

// readCredentials reads a -credentials file.
func readCredentials(path string) ([]userEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading -credentials: %w", err)
	}
	var f credentialsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parsing -credentials %s: %w (want {\"users\": [{\"name\": ..., \"password\": ...}]})", path, err)
	}
	for i, u := range f.Users {
		if u.Name == "" {
			return nil, fmt.Errorf("-credentials %s: user %d has no name", path, i+1)
		}
		if u.BackendPassword != "" && u.BackendUser == "" {
			return nil, fmt.Errorf("-credentials %s: user %q has backend_password without backend_user", path, u.Name)
		}
	}
	return f.Users, nil
}

// loadUsers returns the configured client users: -user entries, then the
// -credentials file's. A name given twice is an error.
func loadUsers(c *config) ([]userEntry, error) {
	users := append([]userEntry(nil), c.users...)
	if c.credFile != "" {
		fileUsers, err := readCredentials(c.credFile)
		if err != nil {
			return nil, err
		}
		users = append(users, fileUsers...)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("no client users: -credentials %s lists none, and no -user was given", c.credFile)
	}
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		if seen[u.Name] {
			return nil, fmt.Errorf("user %q is configured twice (-user and -credentials, or twice in -credentials)", u.Name)
		}
		seen[u.Name] = true
	}
	return users, nil
}
