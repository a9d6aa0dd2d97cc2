package main

import (
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/crawlers/connect"
	"github.com/watershed-data/watershed/crawlers/kafka"
)

// builtinKinds returns the registry of the crawler kinds this binary ships.
func builtinKinds() *crawlers.Registry {
	return crawlers.NewRegistry(kafka.Kind(), connect.Kind())
}
