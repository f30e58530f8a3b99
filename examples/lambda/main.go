// Command lambda is an AWS Lambda function behind an API Gateway HTTP API
// that reads and reserves items in Aurora MySQL through rdsmux, signing in
// with IAM database authentication.
//
// What it shows:
//   - one rdsmux.DB per execution environment, opened on the first
//     invocation and kept across warm invocations: the backend connections,
//     the prepared statements on them and the IAM token survive between
//     invocations, and DB_MAX_CONNECTIONS caps what one environment may hold;
//   - IAM authentication: an iamauth.TokenSource signs tokens with the
//     function's execution role (the SDK's default credential chain reads
//     what the Lambda runtime puts in the environment), caches them and
//     re-signs them ahead of their 15-minute expiry; rdsmux.WithCredentials
//     hands each new backend connection a token through go-sql-driver's
//     BeforeConnect hook, retrying with a fresh token if the server rejects
//     one;
//   - TLS is required: the token travels as a cleartext password, so the
//     connection verifies the server against DB_CA_FILE (package the RDS
//     CA bundle, global-bundle.pem, with the function) and iamauth refuses
//     to send a token over anything less.
//
// What an in-process pool cannot do here: an execution environment serves
// one request at a time and is frozen between invocations with its
// sockets open, so the function's database connections are concurrency x
// DB_MAX_CONNECTIONS, however idle they are, and a fleet budget (the DSN's
// fleet=) cannot help a frozen environment give its slots back. For
// bursts, point DB_HOST at a fleet of rdsmux listeners that share one
// budget through Redis instead (the self-hosted RDS Proxy): see
// listener-fleet/ (compose file, ECS task definition and settings). The
// listener then signs in to the database with IAM (-backend-iam), and the
// functions sign in to the listener as one of its client users (a
// password, from Secrets Manager for example, instead of this example's
// IAM token).
//
// Environment: DB_HOST, DB_PORT (default 3306), DB_USER (a user created
// with IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'), DB_NAME,
// DB_CA_FILE, DB_MAX_CONNECTIONS (default 2). The region comes from an RDS
// host name, else from AWS_REGION.
//
// Routes: GET /items/{id} and POST /items/{id}/reserve.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux"
	"github.com/rdsmux/rdsmux/iamauth"
)

func main() {
	lambda.Start(handle)
}

// config is the function's configuration, read from the environment.
type config struct {
	Host           string
	Port           int
	User           string
	DBName         string
	CAFile         string
	MaxConnections int
}

func configFromEnv() (config, error) {
	c := config{
		Host:           os.Getenv("DB_HOST"),
		Port:           3306,
		User:           os.Getenv("DB_USER"),
		DBName:         os.Getenv("DB_NAME"),
		CAFile:         os.Getenv("DB_CA_FILE"),
		MaxConnections: 2,
	}
	var errs []error
	if v := os.Getenv("DB_PORT"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("DB_PORT=%q is not a port number", v))
		}
		c.Port = p
	}
	if v := os.Getenv("DB_MAX_CONNECTIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("DB_MAX_CONNECTIONS=%q: want a positive number", v))
		}
		c.MaxConnections = n
	}
	if c.Host == "" || c.User == "" || c.DBName == "" {
		errs = append(errs, errors.New("set DB_HOST, DB_USER and DB_NAME"))
	}
	if c.CAFile == "" {
		errs = append(errs, errors.New("set DB_CA_FILE to the PEM bundle the database certificate chains to "+
			"(for RDS, global-bundle.pem): IAM tokens are only sent over verified TLS"))
	}
	return c, errors.Join(errs...)
}

// app is what one execution environment keeps between invocations.
type app struct {
	db     *rdsmux.DB
	tokens *iamauth.TokenSource
}

// shared is the execution environment's app, opened by the first
// invocation; a failed open is retried by the next invocation.
var shared struct {
	mu  sync.Mutex
	app *app // guarded by mu
}

// sharedApp returns the environment's app, opening it on first use.
func sharedApp(ctx context.Context) (*app, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.app != nil {
		return shared.app, nil
	}
	cfg, err := configFromEnv()
	if err != nil {
		return nil, err
	}
	a, err := newApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	shared.app = a
	return a, nil
}

// newApp wires IAM authentication and TLS into an rdsmux.DB. It opens no
// connection: the first statement does.
func newApp(ctx context.Context, cfg config) (*app, error) {
	// The SDK's default chain: in Lambda, the execution role's temporary
	// credentials from the environment. Only the signing needs them; no
	// call to AWS is made to build a token.
	tokens, err := iamauth.NewTokenSource(ctx, cfg.Host, cfg.Port, cfg.User)
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading DB_CA_FILE: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("DB_CA_FILE %s holds no PEM certificate", cfg.CAFile)
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	tlsName := "rdsmux-lambda-" + addr
	if err := mysql.RegisterTLSConfig(tlsName, &tls.Config{
		RootCAs:    roots,
		ServerName: cfg.Host,
		MinVersion: tls.VersionTLS12,
	}); err != nil {
		return nil, err
	}

	mc := mysql.NewConfig()
	mc.User, mc.Net, mc.Addr, mc.DBName, mc.TLSConfig = cfg.User, "tcp", addr, cfg.DBName, tlsName
	mc.Timeout = 5 * time.Second
	rc := rdsmux.NewConfig()
	rc.MySQL = mc
	rc.MaxConnections = cfg.MaxConnections
	rc.ConnectionBorrowTimeout = 10 * time.Second
	db, err := rdsmux.OpenConfig(rc, rdsmux.WithCredentials(tokens))
	if err != nil {
		return nil, err
	}
	return &app{db: db, tokens: tokens}, nil
}

// item is the JSON body of a response.
type item struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Stock int    `json:"stock"`
}

// handle serves one invocation.
func handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	a, err := sharedApp(ctx)
	if err != nil {
		// A configuration error: fail the invocation so it shows in the
		// function's errors, with the reason in the log.
		return events.APIGatewayV2HTTPResponse{}, err
	}
	id, err := strconv.ParseInt(req.PathParameters["id"], 10, 64)
	if err != nil || id <= 0 {
		return reply(http.StatusBadRequest, map[string]string{"error": "the item id must be a positive integer"})
	}
	var it item
	switch {
	case req.RequestContext.HTTP.Method == http.MethodGet:
		it, err = a.get(ctx, id)
	case req.RequestContext.HTTP.Method == http.MethodPost && strings.HasSuffix(req.RawPath, "/reserve"):
		it, err = a.reserve(ctx, id)
	default:
		return reply(http.StatusNotFound, map[string]string{"error": "no such route"})
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return reply(http.StatusNotFound, map[string]string{"error": "no such item"})
	case errors.Is(err, errSoldOut):
		return reply(http.StatusConflict, map[string]string{"error": "sold out"})
	case err != nil:
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return reply(http.StatusOK, it)
}

var errSoldOut = errors.New("sold out")

// get reads one item: one statement, one backend borrowed for it.
func (a *app) get(ctx context.Context, id int64) (item, error) {
	it := item{ID: id}
	err := a.db.QueryRowContext(ctx, "SELECT name, stock FROM items WHERE id = ?", id).Scan(&it.Name, &it.Stock)
	return it, err
}

// reserve takes one item from stock in a transaction, which keeps its
// backend from BEGIN to COMMIT and no longer.
func (a *app) reserve(ctx context.Context, id int64) (it item, err error) {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return it, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	it.ID = id
	if err := tx.QueryRowContext(ctx, "SELECT name, stock FROM items WHERE id = ? FOR UPDATE", id).Scan(&it.Name, &it.Stock); err != nil {
		return it, err
	}
	if it.Stock <= 0 {
		return it, errSoldOut
	}
	if _, err := tx.ExecContext(ctx, "UPDATE items SET stock = stock - 1 WHERE id = ?", id); err != nil {
		return it, err
	}
	it.Stock--
	return it, tx.Commit()
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

func reply(status int, body any) (events.APIGatewayV2HTTPResponse, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}, nil
}
