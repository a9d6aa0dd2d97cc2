// URN helpers for routing and grouping. The URN scheme is documented in
// docs/urns.md; only what the UI needs is parsed here.

/** assetPath is the deep link of an asset page: the URN stays readable in the address bar. */
export function assetPath(urn: string): string {
  return '/asset/' + encodeURN(urn)
}

/** lineagePath is the deep link of the lineage graph rooted at urn. */
export function lineagePath(urn: string, params?: Record<string, string>): string {
  const q = params ? new URLSearchParams(params).toString() : ''
  return '/lineage/' + encodeURN(urn) + (q ? '?' + q : '')
}

/** impactPath is the deep link of the impact view of urn. */
export function impactPath(urn: string): string {
  return '/impact/' + encodeURN(urn)
}

/**
 * encodeURN percent-encodes a URN for a path, keeping ':' and '/' readable
 * except where a server would clean the path: the second slash of '//'
 * (postgres://…) and '.' or '..' segments are escaped.
 */
export function encodeURN(urn: string): string {
  return encodeURIComponent(urn)
    .replace(/%3A/g, ':')
    .replace(/%2F/g, '/')
    .replace(/\/\//g, '/%2F')
    .replace(/\/(\.{1,2})(?=\/|$)/g, (_, d: string) => '/' + d.replace(/\./g, '%2E'))
}

/**
 * urnFromPath reads the URN of a deep link from the raw (still encoded)
 * path after prefix; the router's own decoding would turn a URN's escaped
 * '%20' into a space.
 */
export function urnFromPath(pathname: string, prefix: string): string {
  return decodeURN(pathname.startsWith(prefix) ? pathname.slice(prefix.length) : pathname)
}

/** decodeURN reverses encodeURN; a malformed escape is returned as written. */
export function decodeURN(path: string): string {
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

/** scheme returns the URN's scheme word (topic, field, column…). */
export function scheme(urn: string): string {
  const m = /^urn:([^:]+):/.exec(urn)
  return m ? m[1] : ''
}

/** identity returns what follows urn:<scheme>:. */
export function identity(urn: string): string {
  const m = /^urn:[^:]+:(.*)$/.exec(urn)
  return m ? m[1] : urn
}

/**
 * containerOf returns the dataset (topic, table, dataset) holding a field or
 * column, from the URN alone (docs/urns.md), or undefined for other kinds.
 *   urn:field:prod/orders/value/customer.email → urn:topic:prod/orders
 *   urn:column:postgres://h:5432/db.public.t/email → urn:table:postgres://h:5432/db.public.t
 *   urn:field:s3://lake/curated%2Fc360/email → urn:dataset:s3://lake/curated/c360
 */
export function containerOf(urn: string): string | undefined {
  const s = scheme(urn)
  const id = identity(urn)
  const cut = id.lastIndexOf('/')
  if (cut <= 0) return undefined
  const parent = id.slice(0, cut)
  if (s === 'column') return 'urn:table:' + parent
  if (s !== 'field') return undefined
  const topic = /^([^/:]+)\/([^/]+)\/(key|value)$/.exec(parent)
  if (topic) return `urn:topic:${topic[1]}/${topic[2]}`
  const ns = parent.indexOf('://')
  if (ns < 0) return undefined
  const rest = parent.slice(ns + 3)
  const slash = rest.indexOf('/')
  if (slash < 0) return undefined
  return 'urn:dataset:' + parent.slice(0, ns + 3) + rest.slice(0, slash + 1) + rest.slice(slash + 1).replace(/%2F/gi, '/')
}

/** fieldPath returns the dotted path of a field or the name of a column. */
export function fieldPath(urn: string): string {
  const id = identity(urn)
  return id.slice(id.lastIndexOf('/') + 1)
}
