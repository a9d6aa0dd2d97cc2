import type { AssetKind } from '../gql/graphql'
import { identity, scheme } from './urn'

const kinds: Record<string, AssetKind> = {
  kafka: 'KAFKA_CLUSTER', broker: 'BROKER', topic: 'TOPIC', registry: 'SCHEMA_REGISTRY', subject: 'SCHEMA_SUBJECT',
  schema: 'SCHEMA_VERSION', field: 'FIELD', group: 'CONSUMER_GROUP', principal: 'PRINCIPAL', connect: 'CONNECT_CLUSTER',
  connector: 'CONNECTOR', database: 'DATABASE', table: 'TABLE', column: 'COLUMN', job: 'JOB', dataset: 'DATASET',
  violation: 'VIOLATION', policy: 'POLICY', crawl: 'CRAWL_RUN',
}

/** kindOf returns the kind a URN's scheme names (docs/urns.md), or null. */
export function kindOf(urn: string): AssetKind | null {
  return kinds[scheme(urn)] ?? null
}

/** nameFromURN is a display name for an asset known only by URN: the identity without cluster or namespace. */
export function nameFromURN(urn: string): string {
  const id = identity(urn)
  const ns = /^[a-z0-9+.-]+:\/\/[^/]*\/(.*)$/i.exec(id)
  if (ns) return ns[1]
  const slash = id.indexOf('/')
  return slash >= 0 ? id.slice(slash + 1) : id
}
