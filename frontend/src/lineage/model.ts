// The lineage graph as the UI holds it: nodes and edges merged from lineage
// walks, with who expanded what (so collapse can undo it) and one path from
// the root to every node (so a click can highlight why a node is there).
// Pure functions over plain data: tested without a browser.
import type { AssetSummaryFragment, LineageFieldsFragment } from '../gql/graphql'
import { containerOf } from '../api/urn'

export type LEdge = LineageFieldsFragment['edges'][number]

export interface GNode {
  asset: AssetSummaryFragment
  /** hops from the root: negative upstream, positive downstream, 0 the root */
  depth: number
  /** one path of URNs from the root to this node (root first) */
  path: string[]
  /** the node whose expansion added this one; undefined for the initial walk */
  addedBy?: string
  /** true once expanded; false when the node may have unloaded neighbours */
  expanded: { up: boolean; down: boolean }
}

export interface Graph {
  root: string
  nodes: Map<string, GNode>
  edges: Map<string, LEdge>
  truncated: boolean
}

export const edgeKey = (e: Pick<LEdge, 'from' | 'to' | 'kind'>) => `${e.from}|${e.kind}|${e.to}`

function addWalk(g: Graph, walk: LineageFieldsFragment, sign: 1 | -1, by: string | undefined, depth: number): number {
  const base = g.nodes.get(walk.root.urn)
  let added = 0
  for (const n of walk.nodes) {
    if (g.nodes.has(n.asset.urn)) continue
    const path = base && by ? [...base.path, ...n.path.slice(1)] : n.path
    const d = (base?.depth ?? 0) + sign * n.depth
    // A node at the walk's depth bound may have more neighbours in that direction.
    const atBound = depth > 0 && n.depth >= depth
    g.nodes.set(n.asset.urn, {
      asset: n.asset,
      depth: d,
      path,
      addedBy: by,
      expanded: sign > 0 ? { up: true, down: !atBound } : { up: !atBound, down: true },
    })
    added++
  }
  for (const e of walk.edges) g.edges.set(edgeKey(e), e)
  return added
}

/**
 * expand merges a walk from urn (depth 1, one direction) into a copy of g;
 * the new nodes remember urn so that collapse can remove them again.
 */
export function expand(g: Graph, urn: string, walk: LineageFieldsFragment, direction: 'up' | 'down'): { graph: Graph; added: number } {
  const next: Graph = { ...g, nodes: new Map(g.nodes), edges: new Map(g.edges), truncated: g.truncated || walk.truncated }
  const self = next.nodes.get(urn)
  if (self) next.nodes.set(urn, { ...self, expanded: { ...self.expanded, [direction]: true } })
  const added = addWalk(next, walk, direction === 'down' ? 1 : -1, urn, 1)
  return { graph: next, added }
}

/** collapse removes every node added by expanding urn (and by expanding those), and their edges. */
export function collapse(g: Graph, urn: string): Graph {
  const gone = new Set<string>()
  let grew = true
  while (grew) {
    grew = false
    for (const [u, n] of g.nodes) {
      if (!gone.has(u) && n.addedBy && (n.addedBy === urn || gone.has(n.addedBy))) {
        gone.add(u)
        grew = true
      }
    }
  }
  const nodes = new Map([...g.nodes].filter(([u]) => !gone.has(u)))
  const self = nodes.get(urn)
  if (self && urn !== g.root) {
    // Edges to surviving nodes stay; the node may be expanded again.
    const sign = Math.sign(self.depth)
    nodes.set(urn, { ...self, expanded: sign > 0 ? { ...self.expanded, down: false } : { ...self.expanded, up: false } })
  }
  const edges = new Map([...g.edges].filter(([, e]) => nodes.has(e.from) && nodes.has(e.to)))
  return { ...g, nodes, edges }
}

/** collapsible tells whether any node was added by expanding urn. */
export function collapsible(g: Graph, urn: string): boolean {
  for (const n of g.nodes.values()) if (n.addedBy === urn) return true
  return false
}

/** pathOf returns the nodes and edge keys on the path from the root to urn. */
export function pathOf(g: Graph, urn: string): { nodes: Set<string>; edges: Set<string> } {
  const path = g.nodes.get(urn)?.path ?? []
  const nodes = new Set(path)
  const edges = new Set<string>()
  for (let i = 1; i < path.length; i++) {
    const a = path[i - 1]
    const b = path[i]
    for (const [k, e] of g.edges) {
      if ((e.from === a && e.to === b) || (e.from === b && e.to === a)) edges.add(k)
    }
  }
  return { nodes, edges }
}

export interface Group {
  /** the dataset URN (topic, table, dataset), or the field itself when it has no container */
  urn: string
  fields: GNode[]
  depth: number
}

/**
 * groupFields arranges a field-level graph into datasets holding the fields
 * that appear in it, ordered by field path; non-field nodes stand alone.
 */
export function groupFields(g: Graph): Map<string, Group> {
  const groups = new Map<string, Group>()
  for (const n of g.nodes.values()) {
    const c = n.asset.kind === 'FIELD' || n.asset.kind === 'COLUMN' ? (containerOf(n.asset.urn) ?? n.asset.urn) : n.asset.urn
    const grp = groups.get(c) ?? { urn: c, fields: [], depth: n.depth }
    grp.fields.push(n)
    if (Math.abs(n.depth) < Math.abs(grp.depth) || n.depth === 0) grp.depth = n.depth
    groups.set(c, grp)
  }
  for (const grp of groups.values()) grp.fields.sort((a, b) => a.asset.name.localeCompare(b.asset.name))
  return groups
}

/** fromRoots builds a graph from walks of one direction or both, each from its own root. */
export function fromRoots(
  root: string,
  rootAsset: AssetSummaryFragment | undefined,
  walks: { down?: LineageFieldsFragment; up?: LineageFieldsFragment }[],
  depth: number,
  keepLonely: boolean,
): Graph {
  const g: Graph = { root, nodes: new Map(), edges: new Map(), truncated: false }
  if (rootAsset) g.nodes.set(root, { asset: rootAsset, depth: 0, path: [root], expanded: { up: true, down: true } })
  for (const w of walks) {
    const r = (w.down ?? w.up)?.root
    if (!r) continue
    const lonely = (w.down?.nodes.length ?? 0) + (w.up?.nodes.length ?? 0) === 0
    if (lonely && !keepLonely && r.urn !== root) continue
    if (!g.nodes.has(r.urn)) g.nodes.set(r.urn, { asset: r, depth: 0, path: [r.urn], expanded: { up: true, down: true } })
    if (w.down) {
      g.truncated ||= w.down.truncated
      addWalk(g, w.down, 1, undefined, depth)
    }
    if (w.up) {
      g.truncated ||= w.up.truncated
      addWalk(g, w.up, -1, undefined, depth)
    }
  }
  return g
}
