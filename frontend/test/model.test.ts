import { describe, expect, it } from 'vitest'
import { collapse, collapsible, expand, fromRoots, groupFields, pathOf } from '../src/lineage/model'
import type { AssetKind, LineageFieldsFragment } from '../src/gql/graphql'

const asset = (urn: string, kind: AssetKind = 'TOPIC') => ({ urn, kind, name: urn.split('/').pop()!, description: null, deleted: false, classifications: [] })
const edge = (from: string, to: string) => ({ from, to, kind: 'CONSUMES' as const, confidence: 1, masking: false, block: [], deletedAt: null, claims: [] })

/** walk builds a lineage result: chains are paths from the root. */
function walk(root: string, paths: string[][], edges: [string, string][]): LineageFieldsFragment {
  const seen = new Map<string, string[]>()
  for (const p of paths) for (let i = 1; i < p.length; i++) if (!seen.has(p[i])) seen.set(p[i], p.slice(0, i + 1))
  return {
    truncated: false,
    root: asset(root),
    nodes: [...seen].map(([u, path]) => ({ depth: path.length - 1, path, asset: asset(u) })),
    edges: edges.map(([a, b]) => edge(a, b)),
  }
}

describe('lineage graph model', () => {
  const down = walk('r', [['r', 'a', 'b']], [['r', 'a'], ['a', 'b']])
  const up = walk('r', [['r', 'u']], [['u', 'r']])

  it('merges both directions with signed depths and paths', () => {
    const g = fromRoots('r', down.root, [{ down, up }], 2, true)
    expect([...g.nodes.keys()].sort()).toEqual(['a', 'b', 'r', 'u'])
    expect(g.nodes.get('b')!.depth).toBe(2)
    expect(g.nodes.get('u')!.depth).toBe(-1)
    // Nodes at the depth bound may have more; nearer ones do not.
    expect(g.nodes.get('b')!.expanded.down).toBe(false)
    expect(g.nodes.get('a')!.expanded.down).toBe(true)
    expect(g.nodes.get('u')!.expanded.up).toBe(true) // depth 1 < bound 2
  })

  it('expands and collapses, recursively, leaving the rest', () => {
    let g = fromRoots('r', down.root, [{ down }], 2, true)
    g = expand(g, 'b', walk('b', [['b', 'c'], ['b', 'a']], [['b', 'c'], ['b', 'a']]), 'down').graph
    expect(g.nodes.has('c')).toBe(true)
    expect(g.nodes.get('c')!.path).toEqual(['r', 'a', 'b', 'c'])
    expect(g.nodes.get('a')!.addedBy).toBeUndefined() // already there: not taken over
    g = expand(g, 'c', walk('c', [['c', 'd']], [['c', 'd']]), 'down').graph
    expect(collapsible(g, 'b')).toBe(true)
    const c = collapse(g, 'b')
    expect([...c.nodes.keys()].sort()).toEqual(['a', 'b', 'r'])
    expect([...c.edges.values()].every((e) => c.nodes.has(e.from) && c.nodes.has(e.to))).toBe(true)
    expect(c.nodes.get('b')!.expanded.down).toBe(false) // can expand again
    expect(c.edges.size).toBe(3) // r→a, a→b and the b→a back edge between survivors
  })

  it('highlights the path from the root to a node', () => {
    const g = fromRoots('r', down.root, [{ down, up }], 2, true)
    const p = pathOf(g, 'b')
    expect([...p.nodes]).toEqual(['r', 'a', 'b'])
    expect(p.edges.size).toBe(2)
    const q = pathOf(g, 'u')
    expect(q.edges.size).toBe(1) // upstream edges point towards the root
  })

  it('groups field-level nodes by their dataset', () => {
    const f = (u: string) => ({ depth: 1, path: ['x', u], asset: asset(u, 'FIELD') })
    const w: LineageFieldsFragment = {
      truncated: false,
      root: asset('urn:field:prod/orders/value/email', 'FIELD'),
      nodes: [f('urn:field:prod/enriched/value/email'), f('urn:field:prod/enriched/value/name'), { depth: 2, path: [], asset: asset('urn:column:pg://h/db.t/email', 'COLUMN') }],
      edges: [],
    }
    const g = fromRoots('urn:topic:prod/orders', undefined, [{ down: w }], 3, true)
    const groups = groupFields(g)
    expect([...groups.keys()].sort()).toEqual(['urn:table:pg://h/db.t', 'urn:topic:prod/enriched', 'urn:topic:prod/orders'])
    expect(groups.get('urn:topic:prod/enriched')!.fields.map((x) => x.asset.urn)).toEqual(['urn:field:prod/enriched/value/email', 'urn:field:prod/enriched/value/name'])
  })

  it('drops field roots without lineage unless asked to keep them', () => {
    const lonely = walk('urn:field:prod/o/value/x', [], [])
    expect(fromRoots('urn:topic:prod/o', undefined, [{ down: lonely }], 3, false).nodes.size).toBe(0)
    expect(fromRoots('urn:topic:prod/o', undefined, [{ down: lonely }], 3, true).nodes.size).toBe(1)
  })
})
