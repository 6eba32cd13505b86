module github.com/localtasks/localtasks/chaos

go 1.26.0

require (
	github.com/localtasks/localtasks v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
)

replace (
	github.com/localtasks/localtasks => ../
	github.com/localtasks/localtasks/sqlitejournal => ../sqlitejournal
)
