module github.com/localtasks/localtasks/bench

go 1.26.0

replace github.com/localtasks/localtasks => ../

require (
	github.com/alitto/pond/v2 v2.7.1
	github.com/localtasks/localtasks v0.0.0-00010101000000-000000000000
	github.com/panjf2000/ants/v2 v2.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.24.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
)
