// Command distributed runs the quick start's tasks (example/tasks) on River
// and PostgreSQL, in separate processes: worker processes run the tasks, and
// a web process enqueues them and serves their results by ID. Every role is
// this one binary:
//
//	distributed -role migrate   create River's tables (and -schema), then exit
//	distributed -role worker    run tasks until SIGINT or SIGTERM; prints "worker ID ready"
//	distributed -role web       serve the API on -addr; prints "listening on http://HOST:PORT"
//
// The web process runs no task: it inserts River jobs, which any worker
// process on the same database takes. Its API:
//
//	POST /fetch?url=URL    enqueue a fetch: 202, {"id": ...}, Location /results/{id}
//	POST /digest?seed=TEXT enqueue a digest, likewise
//	GET  /results/{id}     200 with the run's status: with Retry-After while unfinished;
//	                       with its value and the workers that ran it; with the error if
//	                       it failed or the reason if cancelled. 404 for an unknown ID
//
// Flags:
//
//	-role migrate|worker|web  what this process does (required)
//	-db URL                   the PostgreSQL database (default $LOCALTASKS_PG_URL)
//	-schema NAME              the schema of River's tables (default "": the search_path)
//	-id ID                    worker: the River client's ID, in each result's workers
//	                          (default River's: the host name and a time)
//	-workers N                worker: how many tasks it runs at once (default 4)
//	-addr host:port           web: where to listen (default 127.0.0.1:8090; port 0 picks one)
//
// On SIGINT or SIGTERM a worker lets its running tasks finish (up to 30
// seconds; tasks still running then go back to the queue, and it exits 1),
// and the web process finishes its requests; both then exit 0. README.md
// has the command sequence that runs it all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// pgURLEnv names the variable -db defaults to.
const pgURLEnv = "LOCALTASKS_PG_URL"

func main() {
	// First, as in every localtasks program; it returns at once here, since
	// this program starts no process pool.
	localtasks.Init()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the program at once
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage is printed
	case err != nil:
		fmt.Fprintln(os.Stderr, "distributed:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	role    string
	db      string
	schema  string
	id      string
	workers int
	addr    string
}

// run runs the role the flags name until it is done or ctx ends. stdout
// gets the role's one line (see the package doc); stderr the logs.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	// River logs each failed attempt at INFO, and the quick start's flaky
	// pages fail once: those lines are expected.
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("role", cfg.role)

	pool, err := connect(ctx, cfg.db)
	if err != nil {
		return err
	}
	defer pool.Close()
	switch cfg.role {
	case "migrate":
		return migrate(ctx, pool, cfg.schema, stdout)
	case "worker":
		return work(ctx, pool, cfg, logger, stdout)
	default: // "web": parseFlags allows no other
		return serve(ctx, pool, cfg, logger, stdout)
	}
}

// roleFlags names the flags that only one role takes.
var roleFlags = map[string]string{"id": "worker", "workers": "worker", "addr": "web"}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	flags := flag.NewFlagSet("distributed", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&cfg.role, "role", "", "what this process does: `migrate`, worker or web")
	flags.StringVar(&cfg.db, "db", "", "the PostgreSQL database's `URL` (default $"+pgURLEnv+")")
	flags.StringVar(&cfg.schema, "schema", "", "the `schema` of River's tables (default: the search_path)")
	flags.StringVar(&cfg.id, "id", "", "worker: the River client's `ID`, reported in each result's workers (default River's)")
	flags.IntVar(&cfg.workers, "workers", 4, "worker: how many tasks it runs at once")
	flags.StringVar(&cfg.addr, "addr", "127.0.0.1:8090", "web: the `host:port` to listen on; port 0 picks a free one")
	if err := flags.Parse(args); err != nil {
		return config{}, err
	}
	if flags.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q: distributed takes only flags", flags.Args())
	}
	switch cfg.role {
	case "migrate", "worker", "web":
	case "":
		return config{}, errors.New("no -role: give -role migrate, -role worker or -role web")
	default:
		return config{}, fmt.Errorf("-role %q is not a role: use migrate, worker or web", cfg.role)
	}
	var err error
	flags.Visit(func(f *flag.Flag) {
		if role, ok := roleFlags[f.Name]; ok && role != cfg.role && err == nil {
			err = fmt.Errorf("-%s is for -role %s, not -role %s", f.Name, role, cfg.role)
		}
	})
	if err != nil {
		return config{}, err
	}
	if cfg.workers < 1 {
		return config{}, fmt.Errorf("-workers %d: a worker runs at least 1 task at once", cfg.workers)
	}
	if cfg.db == "" {
		cfg.db = os.Getenv(pgURLEnv)
	}
	if cfg.db == "" {
		return config{}, fmt.Errorf("no database: give -db URL, or set $%s (adapters/river/scripts/postgres.sh start prints one)", pgURLEnv)
	}
	return cfg, nil
}

// connect opens a pool on url's database and checks that it answers. Its
// errors leave out the URL, which may hold a password.
func connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("the database URL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to the database: %w", err)
	}
	return pool, nil
}

// migrate creates schema if it is missing, since River's migrations do not,
// and brings River's tables in it up to date.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, stdout io.Writer) error {
	where := "the search_path"
	if schema != "" {
		where = "schema " + schema
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("creating schema %q: %w", schema, err)
		}
	}
	if err := ltriver.Migrate(ctx, pool, schema); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "River's tables are up to date in %s\n", where)
	return nil
}
