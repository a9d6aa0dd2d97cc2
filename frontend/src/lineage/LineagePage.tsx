// The lineage graph: /lineage/<urn>?level=dataset|field&depth=3&dir=both&at=<RFC 3339>.
// React Flow draws, ELK (in a worker) lays out left to right; nodes expand
// and collapse, a click highlights the node's path from the root, hovering
// an edge shows its provenance, masking edges are dashed amber.
import { memo, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import '@xyflow/react/dist/style.css'
import { ReactFlow, ReactFlowProvider, Background, Controls, useReactFlow, type Edge as FlowEdge, type Node as FlowNode } from '@xyflow/react'
import { useClient, type CombinedError } from 'urql'
import { Link, useLocation, useSearch } from 'wouter'
import { ChildrenQuery } from '../api/operations'
import { assetPath, containerOf, lineagePath, urnFromPath } from '../api/urn'
import { kindOf, nameFromURN } from '../api/names'
import { useChanges } from '../api/live'
import { ErrorMessage, KindIcon, Loading, Time, ClassificationBadge, kindLabels } from '../components/ui'
import { collapse, edgeKey, expand, fromRoots, groupFields, pathOf, type Graph, type LEdge } from './model'
import { walkMany } from './fetch'
import { columnLayout, elkLimit, layout, type Positions } from './layout'
import { workerELK } from './elkClient'
import { ActionsContext, GROUP_HEAD, NODE_H, NODE_W, ROW_H, nodeTypes, type GraphActions } from './nodes'

type Level = 'dataset' | 'field'
type Dir = 'both' | 'up' | 'down'

export default function LineagePage() {
  useLocation() // re-render on navigation; the URN is read from the raw path
  return (
    <ReactFlowProvider>
      <Lineage urn={urnFromPath(window.location.pathname, '/lineage/')} />
    </ReactFlowProvider>
  )
}

function useParams() {
  const search = useSearch()
  const p = new URLSearchParams(search)
  const depth = Number(p.get('depth') ?? '3')
  return {
    level: (p.get('level') === 'field' ? 'field' : 'dataset') as Level,
    depth: Number.isFinite(depth) && depth >= 0 && depth <= 50 ? depth : 3,
    dir: (['up', 'down'].includes(p.get('dir') ?? '') ? p.get('dir') : 'both') as Dir,
    at: p.get('at') || null,
  }
}

const directionsOf = (dir: Dir): ('up' | 'down')[] => (dir === 'both' ? ['down', 'up'] : [dir])
const isField = (k: string | null | undefined) => k === 'FIELD' || k === 'COLUMN'

function Lineage({ urn }: { urn: string }) {
  const client = useClient()
  const [, navigate] = useLocation()
  const { level, depth, dir, at } = useParams()
  const [graph, setGraph] = useState<Graph | null>(null)
  const [error, setError] = useState<CombinedError | Error | null>(null)
  const [loading, setLoading] = useState(true)
  const [busy, setBusy] = useState<Set<string>>(new Set())
  const [selected, setSelected] = useState<string | null>(null)
  // Hover lives outside this component's state: moving over edges while panning must not re-render the page.
  const hover = useMemo(() => new HoverStore(), [])
  const [positions, setPositions] = useState<Positions>(new Map())
  const [layoutMs, setLayoutMs] = useState<number | null>(null)
  const [reload, setReload] = useState(0)
  const [notice, setNotice] = useState('')
  const [walkMs, setWalkMs] = useState<number | null>(null)
  const elk = useMemo(() => workerELK(), [])
  useEffect(() => () => elk.terminateWorker(), [elk])
  const flow = useReactFlow()

  const setParam = (k: string, v: string | null) => {
    const p = new URLSearchParams(window.location.search)
    if (v === null || v === '') p.delete(k)
    else p.set(k, v)
    navigate(lineagePath(urn) + (p.toString() ? '?' + p.toString() : ''), { replace: true })
  }

  // Load the walk(s) from the root.
  useEffect(() => {
    let cancelled = false
    setLoading(true)
    setError(null)
    setNotice('')
    const t0 = performance.now()
    ;(async () => {
      const directions = directionsOf(dir)
      let g: Graph
      if (level === 'dataset') {
        const { walks, error } = await walkMany(client, [urn], { depth, at, directions, limit: 2500 })
        if (error || !walks[0]) throw error ?? new Error('no lineage')
        const w = walks[0]
        g = fromRoots(urn, (w.down ?? w.up)!.root, walks, depth, true)
      } else {
        // Field level: walk DERIVES from the root's fields (or from the root field itself).
        const kids = await client.query(ChildrenQuery, { urn }, { requestPolicy: 'network-only' }).toPromise()
        if (kids.error) throw kids.error
        const fields = (kids.data?.lineage.nodes ?? []).map((n) => n.asset).filter((a) => isField(a.kind))
        const roots = fields.length > 0 ? fields.map((f) => f.urn) : [urn]
        const { walks, error } = await walkMany(client, roots, { depth, at, directions, edgeKinds: ['DERIVES'], limit: 500 })
        if (error) throw error
        const anyEdges = walks.some((w) => (w.down?.nodes.length ?? 0) + (w.up?.nodes.length ?? 0) > 0)
        g = fromRoots(urn, undefined, walks, depth, !anyEdges)
      }
      if (!cancelled) {
        setWalkMs(Math.round(performance.now() - t0))
        setGraph(g)
        setSelected(null)
      }
    })()
      .catch((e) => !cancelled && setError(e))
      .finally(() => !cancelled && setLoading(false))
    return () => {
      cancelled = true
    }
  }, [client, urn, level, depth, dir, at, reload])
  // A new root or level starts from an empty canvas (a reload keeps the old graph until the new one is in).
  const shape = urn + '|' + level
  const lastShape = useRef(shape)
  if (lastShape.current !== shape) {
    lastShape.current = shape
    setGraph(null)
    setPositions(new Map())
    setLayoutMs(null)
  }

  // Reload when lineage or classifications change (not while time travelling).
  const pending = useRef<ReturnType<typeof setTimeout>>(undefined)
  useChanges(
    (c) => !at && !!graph && (c.type.startsWith('lineage.') || c.type.startsWith('classification.')) && !!c.subject && (graph.nodes.has(c.subject) || c.type.startsWith('lineage.')),
    () => {
      clearTimeout(pending.current)
      pending.current = setTimeout(() => setReload((n) => n + 1), 500)
    },
  )

  // Groups (field level) or nodes (dataset level) to lay out.
  const groups = useMemo(() => (graph && level === 'field' ? groupFields(graph) : null), [graph, level])
  const boxes = useMemo(() => {
    if (!graph) return []
    if (groups) {
      return [...groups.values()].map((grp) => ({ id: grp.urn, width: 260, height: GROUP_HEAD + grp.fields.length * ROW_H + 8, layer: grp.depth }))
    }
    return [...graph.nodes.values()].map((n) => ({ id: n.asset.urn, width: NODE_W, height: NODE_H + (n.asset.classifications.length ? 18 : 0), layer: n.depth }))
  }, [graph, groups])
  const boxOf = useCallback((u: string) => (groups ? (isField(kindOf(u)) ? (containerOf(u) ?? u) : u) : u), [groups])
  const flowEdgesBase = useMemo(() => (graph ? [...graph.edges.values()].filter((e) => graph.nodes.has(e.from) && graph.nodes.has(e.to)) : []), [graph])

  useEffect(() => {
    if (boxes.length === 0) return
    let cancelled = false
    const t0 = performance.now()
    const ledges = flowEdgesBase.map((e) => ({ id: edgeKey(e), source: boxOf(e.from), target: boxOf(e.to) }))
    ;(boxes.length <= elkLimit ? layout(elk, boxes, ledges) : Promise.resolve(columnLayout(boxes, ledges)))
      .then((pos) => {
        if (cancelled) return
        setPositions(pos)
        setLayoutMs(Math.round(performance.now() - t0))
      })
      .catch((e) => !cancelled && setError(e))
    return () => {
      cancelled = true
    }
  }, [elk, boxes, flowEdgesBase, boxOf])

  // Fit the view when the node set changes size (not on highlight).
  const fitted = useRef('')
  useEffect(() => {
    const sig = urn + level + positions.size
    if (positions.size && fitted.current !== sig) {
      fitted.current = sig
      // A large graph opens on the root's neighbourhood (the 24 nodes nearest it), readable; zoom out for the rest.
      const near =
        positions.size > elkLimit && graph
          ? [...graph.nodes.values()]
              .sort((a, b) => Math.abs(a.depth) - Math.abs(b.depth))
              .slice(0, 24)
              .map((n) => ({ id: boxOf(n.asset.urn) }))
          : undefined
      requestAnimationFrame(() => flow.fitView({ padding: 0.15, maxZoom: 1.2, duration: 0, nodes: near }))
    }
  }, [positions, flow, urn, level, graph, boxOf])

  const hl = useMemo(() => (graph && selected ? pathOf(graph, selected) : null), [graph, selected])

  // Nodes whose expansion added others (collapsible), in one pass.
  const expanders = useMemo(() => new Set(graph ? [...graph.nodes.values()].map((n) => n.addedBy ?? '') : []), [graph])
  const sizes = useMemo(() => new Map(boxes.map((b) => [b.id, b])), [boxes])
  const laidOut = positions.size > 0 && boxes.every((b) => positions.has(b.id))
  const nodes: FlowNode[] = useMemo(() => {
    if (!graph || !laidOut) return []
    const cls = (onPath: boolean) => (hl ? (onPath ? 'hl' : 'dim') : '')
    if (groups) {
      return [...groups.values()].map((grp) => {
        const root = grp.urn === graph.root
        const fieldsCollapsible = grp.fields.some((f) => expanders.has(f.asset.urn))
        const onPath = grp.fields.some((f) => hl?.nodes.has(f.asset.urn))
        const first = grp.fields[0]
        const self = grp.fields.length === 1 && first.asset.urn === grp.urn
        return {
          id: grp.urn,
          type: 'dataset',
          width: sizes.get(grp.urn)?.width,
          height: sizes.get(grp.urn)?.height,
          position: positions.get(grp.urn) ?? { x: 0, y: 0 },
          className: cls(onPath),
          data: {
            urn: grp.urn,
            name: self ? first.asset.name : nameFromURN(grp.urn),
            kind: self ? first.asset.kind : kindOf(grp.urn),
            root,
            fields: grp.fields.map((f) => ({ urn: f.asset.urn, asset: f.asset, hl: !!hl?.nodes.has(f.asset.urn) })),
            canUp: grp.fields.some((f) => !f.expanded.up),
            canDown: grp.fields.some((f) => !f.expanded.down),
            canCollapse: fieldsCollapsible,
            busy: busy.has(grp.urn),
          },
        }
      })
    }
    return [...graph.nodes.values()].map((n) => ({
      id: n.asset.urn,
      type: 'asset',
      width: sizes.get(n.asset.urn)?.width,
      height: sizes.get(n.asset.urn)?.height,
      position: positions.get(n.asset.urn) ?? { x: 0, y: 0 },
      className: cls(!!hl?.nodes.has(n.asset.urn)) + (selected === n.asset.urn ? ' selected-node' : ''),
      data: {
        asset: n.asset,
        root: n.asset.urn === graph.root,
        canUp: !n.expanded.up && dir !== 'down',
        canDown: !n.expanded.down && dir !== 'up',
        canCollapse: expanders.has(n.asset.urn),
        busy: busy.has(n.asset.urn),
      },
    }))
  }, [graph, groups, positions, hl, busy, selected, dir, laidOut, expanders, sizes])

  const big = boxes.length > elkLimit
  const edges: FlowEdge[] = useMemo(
    () =>
      !laidOut ? [] : flowEdgesBase.map((e) => {
        const k = edgeKey(e)
        const on = hl?.edges.has(k)
        const f = !!groups
        return {
          id: k,
          type: big ? 'straight' : 'default',
          source: boxOf(e.from),
          target: boxOf(e.to),
          sourceHandle: f && isField(kindOf(e.from)) ? e.from + '#out' : undefined,
          targetHandle: f && isField(kindOf(e.to)) ? e.to + '#in' : undefined,
          className: ['ledge', 'k-' + e.kind.toLowerCase(), e.masking ? 'masking' : '', e.deletedAt ? 'removed' : '', hl ? (on ? 'hl' : 'dim') : ''].join(' '),
          label: e.masking ? 'masked' : undefined,
          data: { edge: e },
          focusable: true,
          ariaLabel: `${e.kind.toLowerCase()} edge from ${e.from} to ${e.to}${e.masking ? ', masking' : ''}`,
        }
      }),
    [flowEdgesBase, hl, groups, boxOf, laidOut, big],
  )

  const actions: GraphActions = useMemo(
    () => ({
      select: (u) => setSelected((s) => (s === u ? null : u)),
      expand: async (u, d) => {
        if (!graph) return
        setBusy((b) => new Set(b).add(u))
        try {
          const field = level === 'field'
          const roots = field ? (groups?.get(u)?.fields.filter((f) => !f.expanded[d]).map((f) => f.asset.urn) ?? [u]) : [u]
          const { walks, error } = await walkMany(client, roots, { depth: 1, at, directions: [d], edgeKinds: field ? ['DERIVES'] : null, limit: 2500 })
          if (error) throw error
          let added = 0
          setGraph((g) => {
            let next = g!
            added = 0
            for (const w of walks) {
              const walk = d === 'down' ? w.down : w.up
              if (!walk) continue
              const r = expand(next, w.urn, walk, d)
              next = r.graph
              added += r.added
            }
            return next
          })
          const name = graph.nodes.get(u)?.asset.name ?? nameFromURN(u)
          setTimeout(() => setNotice(added ? `${added} more ${d === 'down' ? 'downstream' : 'upstream'} of ${name}` : `Nothing further ${d === 'down' ? 'downstream' : 'upstream'} of ${name}`), 0)
        } catch (e) {
          setError(e as Error)
        } finally {
          setBusy((b) => {
            const n = new Set(b)
            n.delete(u)
            return n
          })
        }
      },
      collapse: (u) =>
        setGraph((g) => {
          if (!g) return g
          if (level === 'field' && groups?.has(u)) return groups.get(u)!.fields.reduce((acc, f) => collapse(acc, f.asset.urn), g)
          return collapse(g, u)
        }),
    }),
    [graph, groups, client, at, level],
  )

  const sel = selected && graph ? graph.nodes.get(selected) : undefined
  const atLocal = at ? toLocalInput(at) : ''
  const rootNode = graph?.nodes.get(urn)
  const rootName = rootNode?.asset.name ?? nameFromURN(urn)
  const rootKind = rootNode?.asset.kind ?? kindOf(urn)

  return (
    <div className="lineage-page" data-nodes={graph?.nodes.size ?? 0} data-layout-ms={layoutMs ?? ''} data-walk-ms={walkMs ?? ''}>
      <div className="lineage-bar">
        <h1>
          {rootKind && <KindIcon kind={rootKind} />} Lineage of <Link href={assetPath(urn)}>{rootName}</Link>
        </h1>
        <div className="seg" role="group" aria-label="Level">
          <button type="button" aria-pressed={level === 'dataset'} onClick={() => setParam('level', null)}>
            Datasets
          </button>
          <button type="button" aria-pressed={level === 'field'} onClick={() => setParam('level', 'field')}>
            Fields
          </button>
        </div>
        <label>
          Direction
          <select value={dir} onChange={(e) => setParam('dir', e.target.value === 'both' ? null : e.target.value)}>
            <option value="both">both</option>
            <option value="up">upstream</option>
            <option value="down">downstream</option>
          </select>
        </label>
        <label>
          Depth
          <select value={depth} onChange={(e) => setParam('depth', e.target.value === '3' ? null : e.target.value)}>
            {[1, 2, 3, 4, 6, 8, 12].map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
            <option value={0}>all</option>
          </select>
        </label>
        <label title="Walk the graph as it was at this time">
          As of
          <input type="datetime-local" step="1" value={atLocal} onChange={(e) => setParam('at', e.target.value ? new Date(e.target.value).toISOString() : null)} />
        </label>
        {at && (
          <button type="button" onClick={() => setParam('at', null)}>
            Now
          </button>
        )}
        <span className="muted small" role="status" aria-live="polite">
          {loading ? 'Loading…' : graph ? `${graph.nodes.size} nodes · ${flowEdgesBase.length} edges` : ''}
          {layoutMs !== null && !loading ? ` · layout ${layoutMs} ms` : ''}
          {graph?.truncated ? ' · truncated by the limit' : ''}
          {notice ? ' · ' + notice : ''}
        </span>
      </div>
      {at && (
        <p className="timetravel" role="note">
          Showing lineage as of <Time at={at} /> ({new Date(at).toLocaleString()}). Live updates are paused.
        </p>
      )}
      <ErrorMessage error={error} what="Lineage" />
      <div className="lineage-body">
        <div className="canvas" aria-label="Lineage graph" role="region">
          {loading && !graph && <Loading what="Walking lineage" />}
          {graph && level === 'field' && graph.edges.size === 0 && !loading && (
            <p className="empty-graph">No field-level lineage from {rootName}{at ? ' at that time' : ''}.</p>
          )}
          <ActionsContext.Provider value={actions}>
            <ReactFlow
              nodes={nodes}
              edges={edges}
              nodeTypes={nodeTypes}
              nodesDraggable={false}
              nodesConnectable={false}
              elementsSelectable
              onlyRenderVisibleElements={nodes.length > 150}
              minZoom={0.03}
              maxZoom={2}
              onNodeClick={(_, n) => actions.select(n.type === 'dataset' && groups?.get(n.id)?.fields.length === 1 ? groups.get(n.id)!.fields[0].asset.urn : n.id)}
              onPaneClick={() => setSelected(null)}
              onEdgeMouseEnter={(ev, e) => ev.buttons === 0 && hover.set({ edge: (e.data as { edge: LEdge }).edge, x: ev.clientX, y: ev.clientY })}
              onEdgeMouseMove={(ev) => ev.buttons === 0 && hover.move(ev.clientX, ev.clientY)}
              onEdgeMouseLeave={() => hover.set(null)}
              onMoveStart={() => hover.set(null)}
              onEdgeClick={(_, e) => setSelected((e.data as { edge: LEdge }).edge.to)}
              proOptions={{ hideAttribution: true }}
            >
              <Background gap={24} size={1} />
              <Controls showInteractive={false} />
            </ReactFlow>
          </ActionsContext.Provider>
          <HoverTip store={hover} />
          <Legend />
        </div>
        <aside className="lineage-side" aria-label="Selection">
          {sel && graph ? <Selection graph={graph} urn={sel.asset.urn} onSelect={setSelected} /> : <p className="muted">Click a node to highlight its path from {rootName}; hover an edge for its provenance.</p>}
          {graph && <GraphList graph={graph} onSelect={setSelected} />}
        </aside>
      </div>
    </div>
  )
}

type Hover = { edge: LEdge; x: number; y: number } | null

/** HoverStore holds the hovered edge; only HoverTip re-renders when it changes. */
class HoverStore {
  private v: Hover = null
  private fns = new Set<() => void>()
  get = () => this.v
  set = (v: Hover) => {
    if (v === this.v) return
    this.v = v
    this.fns.forEach((f) => f())
  }
  move = (x: number, y: number) => this.v && this.set({ ...this.v, x, y })
  subscribe = (f: () => void) => {
    this.fns.add(f)
    return () => {
      this.fns.delete(f)
    }
  }
}

function HoverTip({ store }: { store: HoverStore }) {
  const h = useSyncExternalStore(store.subscribe, store.get)
  return h ? <EdgeTooltip edge={h.edge} x={h.x} y={h.y} /> : null
}

/** GraphList is the keyboard and screen-reader view of the graph, rendered only when opened. */
const GraphList = memo(function GraphList({ graph, onSelect }: { graph: Graph; onSelect: (u: string) => void }) {
  const [open, setOpen] = useState(false)
  return (
    <details className="as-list" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Graph as a list ({graph.nodes.size})</summary>
      {open && (
        <ol>
          {[...graph.nodes.values()]
            .sort((a, b) => a.depth - b.depth)
            .map((n) => (
              <li key={n.asset.urn}>
                <span className="depth">{n.depth > 0 ? '+' + n.depth : n.depth}</span>{' '}
                <button type="button" className="link-button" onClick={() => onSelect(n.asset.urn)}>
                  {n.asset.name}
                </button>{' '}
                <span className="muted small">{kindLabels[n.asset.kind]}</span>
              </li>
            ))}
        </ol>
      )}
    </details>
  )
})

function Selection({ graph, urn, onSelect }: { graph: Graph; urn: string; onSelect: (u: string) => void }) {
  const n = graph.nodes.get(urn)!
  const ins = [...graph.edges.values()].filter((e) => e.to === urn)
  const outs = [...graph.edges.values()].filter((e) => e.from === urn)
  return (
    <div className="selection">
      <h2>
        <KindIcon kind={n.asset.kind} /> <Link href={assetPath(urn)}>{n.asset.name}</Link>
      </h2>
      <p className="urn small">
        <code>{urn}</code>
      </p>
      {n.asset.classifications.length > 0 && (
        <p className="badges">
          {n.asset.classifications.map((c) => (
            <ClassificationBadge key={c.name + c.direct} name={c.name} direct={c.direct} origin={c.origin} source={c.source} />
          ))}
        </p>
      )}
      <h3>Path from the root</h3>
      <ol className="path">
        {n.path.map((p) => (
          <li key={p}>
            <button type="button" className="link-button" onClick={() => onSelect(p)}>
              {graph.nodes.get(p)?.asset.name ?? p}
            </button>
          </li>
        ))}
      </ol>
      {[
        ['In', ins],
        ['Out', outs],
      ].map(([label, es]) => (
        <div key={label as string}>
          <h3>{label as string}</h3>
          {(es as LEdge[]).length === 0 && <p className="muted small">None loaded.</p>}
          <ul className="plain">
            {(es as LEdge[]).map((e) => (
              <li key={edgeKey(e)}>
                <span className="edge-kind">{e.kind.toLowerCase()}</span> {graph.nodes.get(label === 'In' ? e.from : e.to)?.asset.name}
                {e.masking && <span className="tag mask">masking</span>}
                <Claims edge={e} />
              </li>
            ))}
          </ul>
        </div>
      ))}
    </div>
  )
}

function Claims({ edge }: { edge: LEdge }) {
  return (
    <ul className="claims">
      {edge.claims.map((c) => (
        <li key={c.source + c.origin}>
          <strong>{c.source}</strong> · {c.origin ?? '—'}
          {c.transform && (
            <>
              {' '}
              · via <code>{c.transform}</code>
            </>
          )}{' '}
          · {Math.round(c.confidence * 100)}%{c.masking ? ' · masks' : ''} · seen <Time at={c.firstSeen} />–<Time at={c.lastSeen} />
        </li>
      ))}
    </ul>
  )
}

function EdgeTooltip({ edge, x, y }: { edge: LEdge; x: number; y: number }) {
  return (
    <div className="edge-tip" role="tooltip" style={{ left: Math.min(x + 14, window.innerWidth - 380), top: y + 14 }}>
      <div>
        <strong>{edge.kind}</strong> {edge.masking && <span className="tag mask">masking</span>}
        {edge.deletedAt && <span className="tag danger">removed</span>}
      </div>
      <div className="small">
        {nameFromURN(edge.from)} → {nameFromURN(edge.to)}
      </div>
      <Claims edge={edge} />
      {edge.block.length > 0 && <div className="small">does not carry: {edge.block.join(', ')}</div>}
    </div>
  )
}

function Legend() {
  return (
    <div className="legend" aria-label="Legend">
      <span>
        <svg width="28" height="8" aria-hidden="true">
          <line x1="0" y1="4" x2="28" y2="4" className="lg-flow" />
        </svg>{' '}
        flow
      </span>
      <span>
        <svg width="28" height="8" aria-hidden="true">
          <line x1="0" y1="4" x2="28" y2="4" className="lg-mask" />
        </svg>{' '}
        masking
      </span>
      <span>
        <svg width="28" height="8" aria-hidden="true">
          <line x1="0" y1="4" x2="28" y2="4" className="lg-hl" />
        </svg>{' '}
        path
      </span>
    </div>
  )
}

function toLocalInput(iso: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}
