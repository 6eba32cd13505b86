package river_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// pgURLEnv names the variable that holds the test server's URL; the
// script scripts/postgres.sh starts a server and prints it.
const pgURLEnv = "LOCALTASKS_PG_URL"

var pool *pgxpool.Pool

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerMain())
	}
	url := os.Getenv(pgURLEnv)
	if url == "" {
		fmt.Fprintf(os.Stderr, "%s is not set: these tests need PostgreSQL. Install it (apt-get install postgresql), then\n"+
			"\teval \"$(scripts/postgres.sh start)\"\nand run the tests again; scripts/postgres.sh stop \"$LOCALTASKS_PG_DIR\" stops it.\n", pgURLEnv)
		os.Exit(1)
	}
	var err error
	pool, err = newPool(context.Background(), url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot connect to PostgreSQL at %s=%s: %v\n", pgURLEnv, url, err)
		os.Exit(1)
	}
	code := m.Run()
	pool.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 200
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

var schemas atomic.Int64

// newSchema makes a schema with River's tables, dropped after the test.
func newSchema(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("lt_%d_%d", os.Getpid(), schemas.Add(1))
	_, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})
	require.NoError(t, ltriver.Migrate(ctx, pool, name))
	return name
}
