module gocrate.example/bulkserver

go 1.19
