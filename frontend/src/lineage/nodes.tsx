// Graph node renderers. Kept small and memoised: at 2,000 nodes every
// re-render counts. Callbacks come through context, not node data, so data
// objects stay stable between renders.
import { createContext, memo, useContext } from 'react'
import { Handle, Position, useStore, type NodeProps, type Node } from '@xyflow/react'
import type { AssetSummaryFragment } from '../gql/graphql'
import { KindIcon, kindLabels, ClassificationBadge } from '../components/ui'
import { fieldPath } from '../api/urn'

export interface GraphActions {
  expand(urn: string, dir: 'up' | 'down'): void
  collapse(urn: string): void
  select(urn: string): void
}
export const ActionsContext = createContext<GraphActions>({ expand() {}, collapse() {}, select() {} })

export type AssetNodeData = {
  asset: AssetSummaryFragment
  root: boolean
  canUp: boolean
  canDown: boolean
  canCollapse: boolean
  busy: boolean
}
export type AssetFlowNode = Node<AssetNodeData, 'asset'>

export const NODE_W = 230
export const NODE_H = 56
export const ROW_H = 22
export const GROUP_HEAD = 40

function Classes({ cls }: { cls: AssetSummaryFragment['classifications'] }) {
  if (cls.length === 0) return null
  const shown = cls.slice(0, 3)
  return (
    <span className="n-badges">
      {shown.map((c) => (
        <ClassificationBadge key={c.name + c.direct} name={c.name} direct={c.direct} origin={c.origin} source={c.source} />
      ))}
      {cls.length > 3 && <span className="more-badges">+{cls.length - 3}</span>}
    </span>
  )
}

/** farZoom is the zoom below which nodes draw as plain boxes (level of detail: cheap at 2,000 nodes). */
const farZoom = 0.35
const useFar = () => useStore((s) => s.transform[2] < farZoom)

export const AssetNode = memo(function AssetNode({ data }: NodeProps<AssetFlowNode>) {
  const act = useContext(ActionsContext)
  const far = useFar()
  const a = data.asset
  if (far) {
    return (
      <div className={'gnode far kind-' + a.kind.toLowerCase() + (data.root ? ' root' : '')} data-urn={a.urn} title={a.name}>
        <Handle type="target" position={Position.Left} isConnectable={false} />
        <Handle type="source" position={Position.Right} isConnectable={false} />
      </div>
    )
  }
  return (
    <div className={'gnode' + (data.root ? ' root' : '') + (a.deleted ? ' deleted' : '')} data-urn={a.urn} title={a.urn}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      {data.canUp && (
        <button type="button" className="exp exp-up nodrag" onClick={(e) => (e.stopPropagation(), act.expand(a.urn, 'up'))} aria-label={`Expand upstream of ${a.name}`} disabled={data.busy}>
          +
        </button>
      )}
      <div className="gnode-main">
        <KindIcon kind={a.kind} />
        <span className="gnode-text">
          <span className="gnode-name">{a.name}</span>
          <span className="gnode-kind">{kindLabels[a.kind]}</span>
        </span>
      </div>
      <Classes cls={a.classifications} />
      {data.canCollapse && (
        <button type="button" className="collapse nodrag" onClick={(e) => (e.stopPropagation(), act.collapse(a.urn))} aria-label={`Collapse ${a.name}`}>
          −
        </button>
      )}
      {data.canDown && (
        <button type="button" className="exp exp-down nodrag" onClick={(e) => (e.stopPropagation(), act.expand(a.urn, 'down'))} aria-label={`Expand downstream of ${a.name}`} disabled={data.busy}>
          +
        </button>
      )}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  )
})

export type GroupNodeData = {
  urn: string
  name: string
  kind: AssetSummaryFragment['kind'] | null
  fields: { urn: string; asset: AssetSummaryFragment; hl: boolean }[]
  root: boolean
  canUp: boolean
  canDown: boolean
  canCollapse: boolean
  busy: boolean
}
export type GroupFlowNode = Node<GroupNodeData, 'dataset'>

/** GroupNode is a dataset with the fields of it that the field-level graph reaches, one handle pair per field. */
export const GroupNode = memo(function GroupNode({ data }: NodeProps<GroupFlowNode>) {
  const act = useContext(ActionsContext)
  const far = useFar()
  if (far) {
    return (
      <div className={'ggroup far' + (data.root ? ' root' : '')} data-urn={data.urn} title={data.name} style={{ height: GROUP_HEAD + data.fields.length * ROW_H + 8 }}>
        {data.fields.map((f) => (
          <span key={f.urn}>
            <Handle type="target" position={Position.Left} id={f.urn + '#in'} isConnectable={false} />
            <Handle type="source" position={Position.Right} id={f.urn + '#out'} isConnectable={false} />
          </span>
        ))}
      </div>
    )
  }
  return (
    <div className={'ggroup' + (data.root ? ' root' : '')} data-urn={data.urn}>
      <div className="ggroup-head" title={data.urn}>
        {data.canUp && (
          <button type="button" className="exp exp-up nodrag" onClick={(e) => (e.stopPropagation(), act.expand(data.urn, 'up'))} aria-label={`Expand upstream of ${data.name}`} disabled={data.busy}>
            +
          </button>
        )}
        {data.kind && <KindIcon kind={data.kind} />}
        <span className="gnode-name">{data.name}</span>
        {data.canCollapse && (
          <button type="button" className="collapse nodrag" onClick={(e) => (e.stopPropagation(), act.collapse(data.urn))} aria-label={`Collapse ${data.name}`}>
            −
          </button>
        )}
        {data.canDown && (
          <button type="button" className="exp exp-down nodrag" onClick={(e) => (e.stopPropagation(), act.expand(data.urn, 'down'))} aria-label={`Expand downstream of ${data.name}`} disabled={data.busy}>
            +
          </button>
        )}
      </div>
      <ul className="ggroup-fields">
        {data.fields.map((f) => (
          <li
            key={f.urn}
            className={'grow' + (f.hl ? ' hl' : '')}
            data-urn={f.urn}
            onClick={(e) => {
              e.stopPropagation()
              act.select(f.urn)
            }}
          >
            <Handle type="target" position={Position.Left} id={f.urn + '#in'} isConnectable={false} />
            <span className="grow-name">{fieldPath(f.urn)}</span>
            <Classes cls={f.asset.classifications} />
            <Handle type="source" position={Position.Right} id={f.urn + '#out'} isConnectable={false} />
          </li>
        ))}
      </ul>
    </div>
  )
})

export const nodeTypes = { asset: AssetNode, dataset: GroupNode }
