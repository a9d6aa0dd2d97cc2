// Left-to-right layered layout with ELK. The browser runs ELK in a web
// worker (elk.worker.ts) so a 2,000-node layout never blocks the page; tests
// pass the bundled ELK directly.
import type { ELK, ElkNode } from 'elkjs/lib/elk-api'

export interface LayoutNode {
  id: string
  width: number
  height: number
  /** signed depth from the root: used to keep upstream left and downstream right */
  layer: number
}

export interface LayoutEdge {
  id: string
  source: string
  target: string
}

export type Positions = Map<string, { x: number; y: number }>

/** layoutOptions picks ELK options by size: thorough for small graphs, fast for large ones. */
export function layoutOptions(n: number): Record<string, string> {
  const big = n > 400
  return {
    'elk.algorithm': 'layered',
    'elk.direction': 'RIGHT',
    'elk.layered.spacing.nodeNodeBetweenLayers': big ? '60' : '90',
    'elk.spacing.nodeNode': big ? '12' : '20',
    'elk.layered.nodePlacement.strategy': big ? 'SIMPLE' : 'BRANDES_KOEPF',
    'elk.layered.crossingMinimization.strategy': 'LAYER_SWEEP',
    'elk.layered.thoroughness': big ? '1' : '7',
    'elk.layered.cycleBreaking.strategy': 'DEPTH_FIRST',
    'elk.separateConnectedComponents': 'true',
    'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  }
}

/** layout positions nodes (top-left corners) with ELK. Edges to unknown nodes are ignored. */
export async function layout(elk: ELK, nodes: LayoutNode[], edges: LayoutEdge[]): Promise<Positions> {
  const ids = new Set(nodes.map((n) => n.id))
  // Model order: sort by layer so that ELK keeps upstream on the left even across cycles.
  const sorted = [...nodes].sort((a, b) => a.layer - b.layer || a.id.localeCompare(b.id))
  const seen = new Set<string>()
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: layoutOptions(nodes.length),
    children: sorted.map((n) => ({ id: n.id, width: n.width, height: n.height })),
    edges: edges
      .filter((e) => ids.has(e.source) && ids.has(e.target) && e.source !== e.target)
      .filter((e) => {
        const k = e.source + '→' + e.target
        if (seen.has(k)) return false
        seen.add(k)
        return true
      })
      .map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  }
  const out = await elk.layout(graph)
  const pos: Positions = new Map()
  for (const c of out.children ?? []) pos.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 })
  return pos
}
