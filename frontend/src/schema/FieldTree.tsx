import { useState } from 'react'
import { useQuery } from 'urql'
import { Link } from 'wouter'
import { ChildrenQuery } from '../api/operations'
import { assetPath, lineagePath } from '../api/urn'
import { Badges, ErrorMessage, Loading } from '../components/ui'
import { buildTree, countNodes, type TreeNode } from './tree'
import type { ChildrenQuery as ChildrenResult } from '../gql/graphql'

type Child = ChildrenResult['lineage']['nodes'][number]['asset']

/** FieldTree shows every field (or column) contained in urn, nested, with classifications. */
export function FieldTree({ urn, label = 'Fields' }: { urn: string; label?: string }) {
  const [{ data, error, fetching }] = useQuery({ query: ChildrenQuery, variables: { urn } })
  if (error) return <ErrorMessage error={error} what={label} />
  if (!data) return fetching ? <Loading what={'Loading ' + label.toLowerCase()} /> : null
  const items = data.lineage.nodes.map((n) => n.asset).filter((a) => a.kind === 'FIELD' || a.kind === 'COLUMN')
  const tree = buildTree<Child>(urn, items, data.lineage.edges)
  if (tree.length === 0) return <p className="muted">No {label.toLowerCase()} known.</p>
  return (
    <div className="field-tree">
      <p className="muted small">
        {countNodes(tree)} {label.toLowerCase()}
        {data.lineage.truncated && ' (truncated)'}
      </p>
      <ul role="tree" aria-label={label}>
        {tree.map((n) => (
          <FieldRow key={n.asset.urn} node={n} level={1} />
        ))}
      </ul>
    </div>
  )
}

function FieldRow({ node, level }: { node: TreeNode<Child>; level: number }) {
  const [open, setOpen] = useState(level < 3)
  const a = node.asset
  const p = (a.properties ?? {}) as Record<string, unknown>
  const has = node.children.length > 0
  return (
    <li role="treeitem" aria-expanded={has ? open : undefined} aria-level={level} className="field-row">
      <div className="field-line">
        {has ? (
          <button type="button" className="twisty" onClick={() => setOpen(!open)} aria-label={(open ? 'Collapse ' : 'Expand ') + a.name}>
            {open ? '▾' : '▸'}
          </button>
        ) : (
          <span className="twisty" aria-hidden="true" />
        )}
        <Link href={assetPath(a.urn)} className="field-name">
          {a.name}
        </Link>
        {typeof p.type === 'string' && <code className="field-type">{p.type}</code>}
        {p.nullable === true && <span className="tag">nullable</span>}
        {p.part === 'key' && <span className="tag">key</span>}
        <Badges asset={a} />
        <Link href={lineagePath(a.urn, { level: 'field' })} className="field-lineage" aria-label={`Lineage of ${a.name}`}>
          lineage
        </Link>
      </div>
      {has && open && (
        <ul role="group">
          {node.children.map((c) => (
            <FieldRow key={c.asset.urn} node={c} level={level + 1} />
          ))}
        </ul>
      )}
    </li>
  )
}
