"""Stand-ins for tests, `make demo` and `make bench`: the loopback fake API (chat completions and
Batch API) and the bare thread-pool script fetch is measured against."""
