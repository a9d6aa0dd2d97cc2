package neo4j

import "github.com/neo4j/neo4j-go-driver/v5/neo4j"

type (
	neo4jTx     = neo4j.ManagedTransaction
	neo4jRecord = neo4j.Record
)
