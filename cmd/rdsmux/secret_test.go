package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"

	"github.com/rdsmux/rdsmux/iamauth"
	"github.com/rdsmux/rdsmux/internal/mariadbtest"
)

// fakeSecrets answers GetSecretValue from memory (Secrets Manager is not
// reachable from the tests; the database is real).
type fakeSecrets struct {
	mu     sync.Mutex
	stages map[string]string // guarded by mu; version stage -> secret JSON
	ids    []string          // guarded by mu; secret ids asked for
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, aws.ToString(in.SecretId))
	stage := aws.ToString(in.VersionStage)
	if stage == "" {
		stage = iamauth.StageCurrent
	}
	s, ok := f.stages[stage]
	if !ok {
		return nil, fmt.Errorf("ResourceNotFoundException: no version %s", stage)
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(s)}, nil
}

func (f *fakeSecrets) set(stage, user, password string) {
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	f.mu.Lock()
	f.stages[stage] = string(b)
	f.mu.Unlock()
}

// TestBackendSecret: with -backend-secret, every client user is served by
// the secret's account, and a rotation (the database's password changed,
// then the secret's) is followed by the next backend connections.
func TestBackendSecret(t *testing.T) {
	db := mariadbtest.Start(t)
	db.CreateUser(t, "svc", "first")
	fake := &fakeSecrets{stages: map[string]string{}}
	fake.set(iamauth.StageCurrent, "svc", "first")
	old := newSecretsClient
	newSecretsClient = func(context.Context) (iamauth.SecretsManagerAPI, error) { return fake, nil }
	t.Cleanup(func() { newSecretsClient = old })

	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	r := startRun(t, "-target", db.Addr(), "-user", "a:pa", "-user", "b:pb", "-backend-secret", arn)
	query := func(user, pw string) error {
		c, err := sql.Open("mysql", user+":"+pw+"@tcp("+r.clients+")/test")
		must(t, err)
		defer c.Close()
		var who string
		if err := c.QueryRow("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)").Scan(&who); err != nil {
			return err
		}
		assert.Equal(t, "svc", who)
		return nil
	}
	must(t, query("a", "pa"))

	// Rotation: the database first, then the secret; user b's first
	// backend connection is dialled after both.
	db.Exec(t, "ALTER USER 'svc'@'%' IDENTIFIED BY 'second'")
	fake.set(iamauth.StagePending, "svc", "second")
	fake.set(iamauth.StageCurrent, "svc", "second")
	must(t, query("b", "pb"))
	fake.mu.Lock()
	defer fake.mu.Unlock()
	assert.Contains(t, fake.ids, arn)
}
