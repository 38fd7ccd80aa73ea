"""Work done outside a request: the operator commands behind `sonta admin`, first-start
duties, migrations and the backup schedule."""
