"""The tooling of the async-callable patch series for Django.

Layers: `core` is shared by everything; `forkops` (a user's own clone), `checks`,
`review` (the upstream package) and `benchmarks` hold the commands and import only
`core`; `cli` builds the parser and is the one place that turns outcomes and
errors into output and exit statuses. Code that runs inside the Django under test
is in scripts/payloads/, never imported from here.
"""
