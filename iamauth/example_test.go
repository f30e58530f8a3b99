package iamauth_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-sql-driver/mysql"

	"github.com/rdsmux/rdsmux/iamauth"
)

// A token source signs IAM tokens for one user at one endpoint; the region
// comes from the RDS host name. Here the AWS credentials are static so the
// example runs offline; by default the SDK's credential chain is used.
func ExampleNewTokenSource() {
	ctx := context.Background()
	host := "mydb.cluster-c0ffee123456.eu-west-1.rds.amazonaws.com"
	src, err := iamauth.NewTokenSource(ctx, host, 3306, "iam_app",
		iamauth.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", "")))
	if err != nil {
		log.Fatal(err)
	}
	cred, err := src.Credentials(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(src.Region())
	fmt.Println(cred.User, cred.Cleartext, cred.Source)
	fmt.Println(strings.HasPrefix(cred.Password, host+":3306?Action=connect&DBUser=iam_app&"))
	fmt.Println(time.Until(cred.Expires).Round(time.Minute))
	// Output:
	// eu-west-1
	// iam_app true iam:mydb.cluster-c0ffee123456.eu-west-1.rds.amazonaws.com:3306/eu-west-1
	// true
	// 15m0s
}

// One TokenCache per process shares tokens between every connection to the
// same (host, port, region, user), for instance the cluster endpoint and
// the instance endpoints failover may dial.
func ExampleTokenCache() {
	ctx := context.Background()
	cache, err := iamauth.NewTokenCache(ctx,
		iamauth.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", "")))
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	for _, host := range []string{
		"shop.cluster-c0ffee123456.us-east-2.rds.amazonaws.com",
		"shop-instance-1.c0ffee123456.us-east-2.rds.amazonaws.com",
	} {
		src, err := cache.Source(host, 3306, "iam_app")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(src.Region())
	}
	// Output:
	// us-east-2
	// us-east-2
}

// IAM authentication with database/sql: NewConnector sends the token with
// the cleartext plugin, only over verified TLS, and retries once with a
// fresh token if the server rejects it.
func ExampleNewConnector() {
	ctx := context.Background()
	host := "mydb.cluster-c0ffee123456.eu-west-1.rds.amazonaws.com"
	src, err := iamauth.NewTokenSource(ctx, host, 3306, "iam_app")
	if err != nil {
		log.Fatal(err)
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", host+":3306", "shop"
	cfg.TLSConfig = "rds" // registered with mysql.RegisterTLSConfig, trusting the RDS CA bundle
	connector, err := iamauth.NewConnector(cfg, src)
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
}

// Credentials from a Secrets Manager secret, rotation included: while the
// rotation function has changed the database but not yet moved AWSCURRENT,
// AWSPENDING is used; Connect waits out a secret lagging behind the
// database instead of failing queries.
func ExampleNewSecretsManagerSource() {
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	src, err := iamauth.NewSecretsManagerSource(secretsmanager.NewFromConfig(awsCfg), "prod/shop/db",
		iamauth.WithSecretMaxAge(10*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", "shop.cluster-c0ffee123456.eu-west-1.rds.amazonaws.com:3306", "shop"
	connector, err := iamauth.NewConnector(cfg, src, iamauth.WithRetryWindow(time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
}

// BeforeConnect plugs a Provider into a go-sql-driver config directly; it
// does not retry rejected credentials (NewConnector does).
func ExampleBeforeConnect() {
	cfg, err := mysql.ParseDSN("tcp(127.0.0.1:3306)/app")
	if err != nil {
		log.Fatal(err)
	}
	if err := cfg.Apply(iamauth.BeforeConnect(iamauth.EnvSource{})); err != nil {
		log.Fatal(err)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
}

// Connect is what a pool's dial function calls: it asks the Provider, dials,
// and on "access denied" invalidates and retries within a bounded window.
func ExampleConnect() {
	ctx := context.Background()
	src := iamauth.Static{User: "app", Password: "s3cret"}
	conn, err := iamauth.Connect(ctx, src, func(ctx context.Context, c iamauth.Credential) (string, error) {
		// A real dial would hand c to the MySQL handshake.
		return "connected as " + c.User, nil
	})
	fmt.Println(conn, err)

	_, err = iamauth.Connect(ctx, src, func(ctx context.Context, c iamauth.Credential) (string, error) {
		return "", fmt.Errorf("handshake: %w", iamauth.ErrAccessDenied)
	})
	fmt.Println(iamauth.IsAccessDenied(err), errors.Is(err, iamauth.ErrAccessDenied))
	// Output:
	// connected as app <nil>
	// true true
}

// A Credential never prints its password, whatever the verb or logger.
func ExampleCredential_String() {
	c := iamauth.Credential{User: "app", Password: "s3cret", Source: "static"}
	fmt.Println(c)
	fmt.Printf("%+v\n", c)
	fmt.Printf("%#v\n", c)
	// Output:
	// iamauth.Credential{User:app Password:[redacted] Source:static}
	// iamauth.Credential{User:app Password:[redacted] Source:static}
	// iamauth.Credential{User:app Password:[redacted] Source:static}
}

func ExampleParseSecret() {
	c, err := iamauth.ParseSecret([]byte(`{"username":"app","password":"s3cret","host":"db.internal","port":3306,"dbname":"shop"}`), iamauth.SecretKeys{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.User, c.Host, c.Port, c.DBName)
	// Output: app db.internal 3306 shop
}

func ExampleRegionFromHost() {
	fmt.Println(iamauth.RegionFromHost("shop.cluster-ro-c0ffee123456.ap-northeast-1.rds.amazonaws.com"))
	fmt.Println(iamauth.RegionFromHost("127.0.0.1"))
	// Output:
	// ap-northeast-1 true
	//  false
}
