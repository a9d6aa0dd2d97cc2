// Builds the field tree of a topic or table from its CONTAINS closure.

export interface TreeInput {
  urn: string
  name: string
  properties?: Record<string, unknown> | null
}

export interface TreeNode<T extends TreeInput> {
  asset: T
  children: TreeNode<T>[]
}

/**
 * buildTree arranges assets into the tree given by parent → child edges below
 * root; children are sorted by their position in the schema when known
 * (properties.index), else by name. Assets unreachable from root are dropped.
 */
export function buildTree<T extends TreeInput>(root: string, assets: T[], edges: { from: string; to: string }[]): TreeNode<T>[] {
  const byURN = new Map(assets.map((a) => [a.urn, a]))
  const kids = new Map<string, string[]>()
  for (const e of edges) {
    if (!byURN.has(e.to)) continue
    const l = kids.get(e.from) ?? []
    if (!l.includes(e.to)) l.push(e.to)
    kids.set(e.from, l)
  }
  const seen = new Set<string>([root])
  const build = (urn: string): TreeNode<T>[] =>
    (kids.get(urn) ?? [])
      .filter((c) => !seen.has(c) && (seen.add(c), true))
      .map((c) => ({ asset: byURN.get(c)!, children: build(c) }))
      .sort(order)
  return build(root)
}

function order<T extends TreeInput>(a: TreeNode<T>, b: TreeNode<T>): number {
  const ia = a.asset.properties?.index
  const ib = b.asset.properties?.index
  if (typeof ia === 'number' && typeof ib === 'number' && ia !== ib) return ia - ib
  // key fields before value fields, then by name
  const pa = String(a.asset.properties?.part ?? '')
  const pb = String(b.asset.properties?.part ?? '')
  if (pa !== pb) return pa === 'key' ? -1 : pb === 'key' ? 1 : pa.localeCompare(pb)
  return a.asset.name.localeCompare(b.asset.name)
}

/** countNodes returns the number of nodes in a forest. */
export function countNodes<T extends TreeInput>(forest: TreeNode<T>[]): number {
  return forest.reduce((n, t) => n + 1 + countNodes(t.children), 0)
}
