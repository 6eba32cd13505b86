package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// dictionary is what each worker's initialiser loads, for the worker's
// tasks to share: a package-level variable, which in a worker process is
// that worker's own.
var dictionary map[string]string

// loadDictionary is defined at package level, as tasks are, so that the
// worker processes know it by its name.
var loadDictionary = localtasks.DefineWorkerInit("example.dictionary.load", func(ctx context.Context) error {
	dictionary = map[string]string{"chat": "cat", "chien": "dog"} // a large file, in a real program
	return nil
})

var translate = localtasks.Define("example.dictionary.translate", func(ctx context.Context, word string) (string, error) {
	if !localtasks.InWorker() {
		return "", fmt.Errorf("translate runs on a process pool with WorkerInit: loadDictionary")
	}
	return dictionary[word], nil
})

// A process pool's WorkerInit runs once in each worker process, after
// Init and before the worker takes tasks: here it loads what the tasks
// look words up in. If it failed, NewProcessPool would return a
// *WorkerInitError with its message. InWorker tells a worker from the
// program that started it.
func ExampleDefineWorkerInit() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 2, WorkerInit: loadDictionary})
	if err != nil {
		panic(err)
	}
	for _, word := range []string{"chat", "chien"} {
		h, err := translate.Enqueue(ctx, procs, word)
		if err != nil {
			panic(err)
		}
		english, err := h.Wait(ctx)
		fmt.Println(word, english, err)
	}
	fmt.Println("in a worker here:", localtasks.InWorker())
	if err := procs.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// chat cat <nil>
	// chien dog <nil>
	// in a worker here: false
}
