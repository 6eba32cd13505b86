package localtasks_test

import (
	"fmt"
	"time"
	_ "time/tzdata" // the time zone database, for LoadLocation on any system

	"github.com/localtasks/localtasks"
)

// CronTimes shows when an expression fires, here across the spring-forward
// change in Paris: 02:30 does not exist on 31 March 2024, so that day has no
// run.
func ExampleCronTimes() {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	after := time.Date(2024, 3, 29, 12, 0, 0, 0, paris)
	times, err := localtasks.CronTimes("30 2 * * *", paris, after, 3)
	if err != nil {
		panic(err)
	}
	for _, t := range times {
		fmt.Println(t.Format("Mon 2006-01-02 15:04 MST"))
	}

	// A typo is an error that says which field is wrong.
	_, err = localtasks.CronTimes("30 25 * * *", paris, after, 3)
	fmt.Println(err)
	// Output:
	// Sat 2024-03-30 02:30 CET
	// Mon 2024-04-01 02:30 CEST
	// Tue 2024-04-02 02:30 CEST
	// localtasks: CronTimes: cron: hour field "25": value 25 out of range 0-23: fix the expression: invalid task
}
