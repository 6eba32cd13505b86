package river_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

var sendReceipt = localtasks.Define("river_example.send-receipt", func(ctx context.Context, order int) (string, error) {
	return fmt.Sprintf("receipt for order %d sent", order), nil
})

// An order and the task that mails its receipt commit together, or not at
// all: a declined payment rolls back both.
func ExampleEnqueueTx() {
	ctx := context.Background()
	schema := fmt.Sprintf("example_tx_%d", os.Getpid())
	if err := ltriver.Migrate(ctx, pool, schema); err != nil {
		panic(err)
	}
	defer pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck
	orders := pgx.Identifier{schema, "orders"}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE TABLE "+orders+" (id int PRIMARY KEY)"); err != nil {
		panic(err)
	}
	backend, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 1, Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer backend.Close(ctx)

	placeOrder := func(id int, paid bool) (localtasks.Handle[string], error) {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return localtasks.Handle[string]{}, err
		}
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
		if _, err := tx.Exec(ctx, "INSERT INTO "+orders+" (id) VALUES ($1)", id); err != nil {
			return localtasks.Handle[string]{}, err
		}
		h, err := ltriver.EnqueueTx(ctx, backend, tx, sendReceipt, id)
		if err != nil {
			return localtasks.Handle[string]{}, err
		}
		if !paid {
			return h, errors.New("payment declined")
		}
		return h, tx.Commit(ctx)
	}

	h, err := placeOrder(1, true)
	fmt.Println("order 1:", err)
	receipt, err := h.Wait(ctx)
	fmt.Println(receipt, err)

	h, err = placeOrder(2, false)
	fmt.Println("order 2:", err)
	_, err = h.Wait(ctx)
	fmt.Println("its receipt's run exists:", !errors.Is(err, localtasks.ErrResultNotFound))
	var n int
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM "+orders).Scan(&n)
	fmt.Println("orders:", n)
	// Output:
	// order 1: <nil>
	// receipt for order 1 sent <nil>
	// order 2: payment declined
	// its receipt's run exists: false
	// orders: 1
}
