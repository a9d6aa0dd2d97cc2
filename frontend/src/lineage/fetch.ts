// Lineage walks from many roots in one request: aliased `lineage` fields
// over the typed LineageFields fragment (the schema has no multi-root walk).
import type { Client, CombinedError } from '@urql/core'
import { parse, print } from '@0no-co/graphql.web'
import { LineageFieldsFragmentDoc, type EdgeKind, type LineageFieldsFragment } from '../gql/graphql'

export interface Walk {
  urn: string
  down?: LineageFieldsFragment
  up?: LineageFieldsFragment
}

export interface WalkOptions {
  depth: number
  at?: string | null
  edgeKinds?: EdgeKind[] | null
  limit?: number
  directions: ('up' | 'down')[]
}

/** walkDocument builds the aliased query for urns (exported for tests). */
export function walkDocument(urns: string[], directions: ('up' | 'down')[]) {
  const vars = urns.map((_, i) => `$u${i}: URN!`).join(', ')
  const fields = urns
    .flatMap((_, i) =>
      directions.map(
        (d) =>
          `${d}${i}: lineage(urn: $u${i}, direction: ${d === 'up' ? 'UPSTREAM' : 'DOWNSTREAM'}, depth: $depth, at: $at, edgeKinds: $edgeKinds, limit: $limit) { ...LineageFields }`,
      ),
    )
    .join('\n')
  // Built at run time (not a tagged template, which codegen would try to read).
  const op = 'query Walks(' + vars + ', $depth: Int, $at: Time, $edgeKinds: [EdgeKind!], $limit: Int) {\n' + fields + '\n}\n'
  return parse(op + print(LineageFieldsFragmentDoc))
}

/**
 * walkMany walks from every urn, batch roots per request so that the
 * server's complexity limit holds, and returns the walks in urn order.
 */
export async function walkMany(client: Client, urns: string[], o: WalkOptions): Promise<{ walks: Walk[]; error?: CombinedError }> {
  const batch = Math.max(1, Math.floor(8 / o.directions.length))
  const walks: Walk[] = []
  for (let i = 0; i < urns.length; i += batch) {
    const part = urns.slice(i, i + batch)
    const vars: Record<string, unknown> = { depth: o.depth, at: o.at || null, edgeKinds: o.edgeKinds ?? null, limit: o.limit ?? 500 }
    part.forEach((u, j) => (vars['u' + j] = u))
    const res = await client.query(walkDocument(part, o.directions), vars, { requestPolicy: 'network-only' }).toPromise()
    if (res.error) return { walks, error: res.error }
    const data = res.data as Record<string, LineageFieldsFragment>
    part.forEach((u, j) => walks.push({ urn: u, down: data['down' + j], up: data['up' + j] }))
  }
  return { walks }
}
