// Package cli is the localtasks command: a client of the dashboard's JSON
// API (docs/api.md) that prints every backend's snapshot and one run's
// result, follows a run's progress live, cancels, retries and strikes
// runs, and pauses and resumes queues and tasks.
//
// cmd/localtasks is a few lines that call Run; everything else lives here,
// writing to the io.Writers it is given, so that the tests run the command
// against a live dashboard handler. It decodes the API's JSON into the
// types of package dashapi, which the dashboard answers with and which
// import nothing of the task runtime, so that the command does not link it.
//
// The command finds the dashboard at the base URL that --url, the
// environment variable LOCALTASKS_URL or URLDefault gives, in that order:
// the URL the program mounts the handler under, such as
// http://127.0.0.1:8080/tasks. Run "localtasks help" for the commands.
package cli
