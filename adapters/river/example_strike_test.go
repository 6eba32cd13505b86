package river_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

type invoice struct {
	Shop   string
	Amount int
}

var chargeInvoice = localtasks.Define("river_example.charge", func(ctx context.Context, in invoice) (string, error) {
	return fmt.Sprintf("charged %s %d", in.Shop, in.Amount), nil
})

// A strike on River is kept in the database: made through one Backend, it
// stops the runs that every process on the schema enqueues or would start,
// until it is restored.
func ExampleBackend_Strike() {
	ctx := context.Background()
	schema := "example_strike"                                                                  // pool is a *pgxpool.Pool on the database
	defer pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck
	if err := ltriver.Migrate(ctx, pool, schema); err != nil {                                  // makes the table of strikes too
		fmt.Println(err)
		return
	}
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 2, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)

	// Stop charging acme while its account is looked into.
	acme := localtasks.Strike{Task: chargeInvoice.Name(), Field: "Shop", Op: localtasks.OpEqual, Value: "acme"}
	if err := b.Strike(acme); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Strikes())

	// A struck request queues nothing; other shops go on.
	struck, err := chargeInvoice.Enqueue(ctx, b, invoice{"acme", 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := struck.Result(ctx)
	fmt.Println(struck.Disposition(), res.Status, res.CancelReason, err)
	other, err := chargeInvoice.Enqueue(ctx, b, invoice{"globex", 30})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(other.Wait(ctx))

	// Lifted: acme is charged again, from now on.
	if err := b.Restore(acme); err != nil {
		fmt.Println(err)
		return
	}
	again, err := chargeInvoice.Enqueue(ctx, b, invoice{"acme", 40})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(again.Wait(ctx))
	// Output:
	// [river_example.charge where Shop == "acme"]
	// struck CANCELLED struck: river_example.charge where Shop == "acme" <nil>
	// charged globex 30 <nil>
	// charged acme 40 <nil>
}
