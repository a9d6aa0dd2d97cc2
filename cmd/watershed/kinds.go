package main

import (
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/crawlers/connect"
	"github.com/watershed-data/watershed/crawlers/kafka"
	"github.com/watershed-data/watershed/crawlers/schemaregistry"
)

// builtinKinds returns the registry of the crawler kinds this binary ships.
func builtinKinds() *crawlers.Registry {
	return crawlers.NewRegistry(kafka.Kind(), schemaregistry.Kind(), connect.Kind())
}
