package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/proxy"
)

// newSecretsClient returns the Secrets Manager client of -backend-secret
// (a test seam: tests answer from a fake).
var newSecretsClient = func(ctx context.Context) (iamauth.SecretsManagerAPI, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("-backend-secret: loading the AWS configuration: %w", err)
	}
	return secretsmanager.NewFromConfig(awsCfg), nil
}

// credStore holds the client users and the backend credentials serving
// them, and reloads them from -credentials (SIGHUP).
type credStore struct {
	cfg     *config
	clients *proxy.ReloadableUsers
	secret  iamauth.Provider // -backend-secret's source; nil without it

	// backends maps a client user to its backend credentials; replaced
	// whole on reload.
	backends atomic.Pointer[map[string]iamauth.Provider]

	mu sync.Mutex // serializes reloads; guards the fields below
	// users are the client users in force.
	users map[string]userEntry
	// tokens are the IAM token sources by database user (-backend-iam),
	// kept across reloads.
	tokens map[string]iamauth.Provider
}

// newCredStore loads the users of c and builds their backend credentials.
func newCredStore(ctx context.Context, c *config) (*credStore, error) {
	s := &credStore{cfg: c, tokens: map[string]iamauth.Provider{}}
	if c.backendSecret != "" {
		client, err := newSecretsClient(ctx)
		if err != nil {
			return nil, err
		}
		src, err := iamauth.NewSecretsManagerSource(client, c.backendSecret)
		if err != nil {
			return nil, fmt.Errorf("-backend-secret: %w", err)
		}
		s.secret = src
	}
	users, err := loadUsers(c)
	if err != nil {
		return nil, err
	}
	if _, err := s.apply(ctx, users); err != nil {
		return nil, err
	}
	return s, nil
}

// backendFor implements proxy.Target.Credentials.
func (s *credStore) backendFor(user string) (iamauth.Provider, error) {
	p, ok := (*s.backends.Load())[user]
	if !ok {
		return nil, fmt.Errorf("no backend credentials for client user %q (not in -credentials or -user any more)", user)
	}
	return p, nil
}

// anyUser returns a configured client user (the first by name), whose
// backend credentials the readiness probe logs in with.
func (s *credStore) anyUser() string {
	m := *s.backends.Load()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// reload reads the users again (-credentials) and applies them.
func (s *credStore) reload(ctx context.Context) (proxy.UsersChange, error) {
	users, err := loadUsers(s.cfg)
	if err != nil {
		return proxy.UsersChange{}, err
	}
	return s.apply(ctx, users)
}

// apply makes users the users in force and reports what changed (a user
// whose password or backend account changed is Changed).
func (s *credStore) apply(ctx context.Context, users []userEntry) (proxy.UsersChange, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	backends := make(map[string]iamauth.Provider, len(users))
	next := make(map[string]userEntry, len(users))
	passwords := make(proxy.StaticUsers, len(users))
	for _, u := range users {
		p, err := s.providerLocked(ctx, u)
		if err != nil {
			return proxy.UsersChange{}, err
		}
		backends[u.Name] = p
		next[u.Name] = u
		passwords[u.Name] = u.Password
	}
	var ch proxy.UsersChange
	if s.users != nil {
		for name, u := range next {
			old, ok := s.users[name]
			switch {
			case !ok:
				ch.Added = append(ch.Added, name)
			case old != u:
				ch.Changed = append(ch.Changed, name)
			}
		}
		for name := range s.users {
			if _, ok := next[name]; !ok {
				ch.Removed = append(ch.Removed, name)
			}
		}
		slices.Sort(ch.Added)
		slices.Sort(ch.Removed)
		slices.Sort(ch.Changed)
	}
	s.users = next
	// Backends first: a client admitted by the new list finds its
	// backend credentials.
	s.backends.Store(&backends)
	if s.clients == nil {
		s.clients = proxy.NewReloadableUsers(passwords)
	} else {
		s.clients.Store(passwords)
	}
	return ch, nil
}

// providerLocked returns the backend credentials serving client user u.
func (s *credStore) providerLocked(ctx context.Context, u userEntry) (iamauth.Provider, error) {
	c := s.cfg
	user, pw, source := u.Name, u.Password, "rdsmux client user"
	switch {
	case u.BackendUser != "":
		user, pw, source = u.BackendUser, u.BackendPassword, "-credentials backend_user"
	case s.secret != nil:
		return s.secret, nil
	case c.backendUser != "":
		user, pw, source = c.backendUser, c.backendPassword, "-backend-user"
	}
	if !c.backendIAM {
		return iamauth.Static{User: user, Password: pw, Source: source}, nil
	}
	if src, ok := s.tokens[user]; ok {
		return src, nil
	}
	host, portStr, err := net.SplitHostPort(c.target)
	if err != nil {
		return nil, fmt.Errorf("-target: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("-target port: %w", err)
	}
	src, err := iamauth.NewTokenSource(ctx, host, port, user)
	if err != nil {
		return nil, fmt.Errorf("-backend-iam: %w", err)
	}
	s.tokens[user] = src
	return src, nil
}

// logChange logs a reload's outcome: names only, never passwords.
func logChange(log *slog.Logger, ch proxy.UsersChange, err error) {
	if err != nil {
		log.Error("rdsmux: reloading the credentials failed; the previous ones stay in force", "err", err)
		return
	}
	log.Info("rdsmux: credentials reloaded", "added", ch.Added, "removed", ch.Removed, "changed", ch.Changed)
}
