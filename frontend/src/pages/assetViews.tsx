// Kind-specific sections of the asset page.
import type { Asset, Neighbor } from './AssetPage'
import type { EdgeKind } from '../gql/graphql'
import type { ReadingHistory } from '../api/live'
import { useHistory } from '../api/live'
import { Link } from 'wouter'
import { AssetLink, Badges, KeyValues, Section, Sparkline, Time } from '../components/ui'
import { FieldTree } from '../schema/FieldTree'
import { SchemaVersions, SchemaDiff } from '../schema/SchemaVersions'

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : [])
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)

/** lagKey names a group's lag series, overall or on one topic. */
export const lagKey = (group: string, topic?: string) => 'lag:' + group + (topic ? '@' + topic : '')

/** groupLag sums a group's lag, over all its offsets or those of one topic. */
export function groupLag(live: unknown, topic?: string): number | undefined {
  const l = obj(live)
  const offsets = arr(l.offsets).filter((o) => topic === undefined || o.topic === topic)
  if (topic === undefined && typeof l.totalLag === 'number') return l.totalLag
  if (offsets.length === 0) return undefined
  return offsets.reduce((s, o) => s + (num(o.lag) ?? 0), 0)
}

/** recordLive records the lag readings an asset (and its consumer groups) carry. */
export function recordLive(h: ReadingHistory, a: Pick<Asset, 'urn' | 'kind' | 'live'> & { downstream: { asset: { urn: string; kind: string; live?: unknown } }[] }) {
  if (a.kind === 'CONSUMER_GROUP') {
    const v = groupLag(a.live)
    if (v !== undefined) h.record(lagKey(a.urn), v)
  }
  if (a.kind === 'TOPIC') {
    const topic = a.urn.replace(/^urn:topic:[^/]+\//, '')
    for (const n of a.downstream) {
      if (n.asset.kind !== 'CONSUMER_GROUP') continue
      const v = groupLag(n.asset.live, topic)
      if (v !== undefined) h.record(lagKey(n.asset.urn, topic), v)
    }
  }
}

const by = (ns: Neighbor[], kinds: EdgeKind[]) => ns.filter((n) => kinds.includes(n.edge.kind))

export function KindView({ asset }: { asset: Asset }) {
  switch (asset.kind) {
    case 'TOPIC':
      return <TopicView asset={asset} />
    case 'CONSUMER_GROUP':
      return <GroupView asset={asset} />
    case 'CONNECTOR':
      return <ConnectorView asset={asset} />
    case 'TABLE':
    case 'DATASET':
      return <TableView asset={asset} />
    case 'FIELD':
    case 'COLUMN':
      return <FieldView asset={asset} />
    case 'JOB':
      return <JobView asset={asset} />
    case 'PRINCIPAL':
      return <PrincipalView asset={asset} />
    case 'SCHEMA_SUBJECT':
      return (
        <Section title="Schema versions">
          <SchemaVersions subject={asset.urn} />
        </Section>
      )
    case 'SCHEMA_VERSION':
      return <VersionView asset={asset} />
    default:
      return <GenericView asset={asset} />
  }
}

function GenericView({ asset }: { asset: Asset }) {
  return (
    <>
      <Section title="Properties">
        <KeyValues data={obj(asset.properties)} label="Properties" />
      </Section>
      {asset.live != null && (
        <Section title="Live readings">
          <KeyValues data={obj(asset.live)} label="Live readings" />
        </Section>
      )}
    </>
  )
}

function TopicView({ asset }: { asset: Asset }) {
  const p = obj(asset.properties)
  const live = obj(asset.live)
  const topic = asset.name
  const subjects = by(asset.downstream, ['HAS_SCHEMA'])
  const consumers = by(asset.downstream, ['CONSUMES'])
  const producers = by(asset.upstream, ['PRODUCES'])
  const readers = by(asset.downstream, ['CAN_READ'])
  const writers = by(asset.upstream, ['CAN_WRITE'])
  return (
    <>
      <div className="stats" aria-label="Topic summary">
        <Stat label="Partitions" value={p.partitions} />
        <Stat label="Replication" value={p.replicationFactor} />
        <Stat label="Messages (est.)" value={live.messageCountEstimate} />
        <Stat label="Under-replicated" value={live.underReplicatedPartitions} warn={num(live.underReplicatedPartitions)! > 0} />
        <Stat label="Offline" value={live.offlinePartitions} warn={num(live.offlinePartitions)! > 0} />
        <Stat label="Value schema" value={p.valueSchemaType ? `${p.valueSchemaType} v${p.valueSchemaVersion ?? '?'}` : '—'} />
      </div>
      <Section title={`Consumer groups (${consumers.length})`} id="sec-consumers">
        {consumers.length === 0 ? (
          <p className="muted">No consumers known.</p>
        ) : (
          <table className="grid" aria-label="Consumers">
            <thead>
              <tr>
                <th scope="col">Consumer</th>
                <th scope="col">State</th>
                <th scope="col">Lag on this topic</th>
                <th scope="col">Lag this session</th>
                <th scope="col">Known from</th>
              </tr>
            </thead>
            <tbody>
              {consumers.map((n) => (
                <ConsumerRow key={n.asset.urn} n={n} topic={topic} />
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Schema">
        <FieldTree urn={asset.urn} label="Fields" />
      </Section>
      <Section title="Producers">
        <NeighbourList ns={producers} empty="No producers known (producers are seen through Connect, OpenLineage, topologies and write ACLs)." />
      </Section>
      {subjects.map((s) => (
        <Section
          key={s.asset.urn}
          title={`Schema versions · ${s.asset.name}`}
          actions={
            <Link href={'/schema-check?subject=' + encodeURIComponent(s.asset.urn)} className="button">
              Check a new schema
            </Link>
          }
        >
          <SchemaVersions subject={s.asset.urn} />
        </Section>
      ))}
      <Section title="Access">
        <div className="two">
          <div>
            <h3>May read</h3>
            <NeighbourList ns={readers} empty="No read ACLs." />
          </div>
          <div>
            <h3>May write</h3>
            <NeighbourList ns={writers} empty="No write ACLs." />
          </div>
        </div>
      </Section>
      <Section title="Partitions">
        <table className="grid" aria-label="Partitions">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Leader</th>
              <th scope="col">Replicas</th>
              <th scope="col">In sync</th>
              <th scope="col">Start offset</th>
              <th scope="col">High watermark</th>
            </tr>
          </thead>
          <tbody>
            {arr(live.partitions).map((pt) => {
              const isr = arr(pt.isr).length
              const reps = arr(pt.replicas).length
              return (
                <tr key={String(pt.partition)} className={isr < reps ? 'warn' : ''}>
                  <td>{String(pt.partition)}</td>
                  <td>{pt.leader === -1 ? <span className="tag danger">offline</span> : String(pt.leader)}</td>
                  <td>{(pt.replicas as number[] | undefined)?.join(', ')}</td>
                  <td>{(pt.isr as number[] | undefined)?.join(', ')}</td>
                  <td>{String(pt.logStartOffset ?? '')}</td>
                  <td>{String(pt.highWatermark ?? '')}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      </Section>
      <Section title="Configuration">
        <KeyValues data={obj(p.configs)} label="Topic configuration" />
      </Section>
    </>
  )
}

function ConsumerRow({ n, topic }: { n: Neighbor; topic: string }) {
  const series = useHistory(n.asset.kind === 'CONSUMER_GROUP' ? lagKey(n.asset.urn, topic) : '')
  const l = obj(n.asset.live)
  const lag = groupLag(n.asset.live, topic)
  return (
    <tr>
      <td>
        <AssetLink asset={n.asset} />
      </td>
      <td>{l.state ? <StateTag state={String(l.state)} /> : <span className="muted">—</span>}</td>
      <td className="num">{lag ?? <span className="muted">—</span>}</td>
      <td>{n.asset.kind === 'CONSUMER_GROUP' ? <Sparkline points={series} label={`Lag of ${n.asset.name}`} /> : <span className="muted">—</span>}</td>
      <td>
        <Provenance n={n} />
      </td>
    </tr>
  )
}

function GroupView({ asset }: { asset: Asset }) {
  const p = obj(asset.properties)
  const l = obj(asset.live)
  const series = useHistory(lagKey(asset.urn))
  const members = arr(l.members)
  const offsets = arr(l.offsets)
  return (
    <>
      <div className="stats" aria-label="Group summary">
        <Stat label="State" value={l.state ? <StateTag state={String(l.state)} /> : '—'} />
        <Stat label="Total lag" value={groupLag(asset.live)} />
        <Stat label="Members" value={members.length} />
        <Stat label="Type" value={[p.groupType, p.protocolType].filter(Boolean).join(' / ')} />
        <Stat label="Assignor" value={l.protocol} />
        <Stat label="Coordinator" value={l.coordinator} />
      </div>
      <Section title="Lag this session">
        <Sparkline points={series} label="Total lag" width={480} height={60} />
        <p className="hint">Readings observed while this page is open (the server keeps the latest reading only).</p>
      </Section>
      <Section title="Lag per partition">
        {offsets.length === 0 ? (
          <p className="muted">No committed offsets.</p>
        ) : (
          <table className="grid" aria-label="Lag per partition">
            <thead>
              <tr>
                <th scope="col">Topic</th>
                <th scope="col">Partition</th>
                <th scope="col">Committed</th>
                <th scope="col">End</th>
                <th scope="col">Lag</th>
              </tr>
            </thead>
            <tbody>
              {offsets.map((o) => (
                <tr key={`${o.topic}/${o.partition}`}>
                  <td>{String(o.topic)}</td>
                  <td>{String(o.partition)}</td>
                  <td className="num">{String(o.committed ?? '')}</td>
                  <td className="num">{String(o.end ?? '')}</td>
                  <td className="num">
                    <LagBar lag={num(o.lag) ?? 0} max={Math.max(...offsets.map((x) => num(x.lag) ?? 0))} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Members">
        {members.length === 0 ? (
          <p className="muted">No active members.</p>
        ) : (
          <table className="grid" aria-label="Members">
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">Host</th>
                <th scope="col">Assignment</th>
              </tr>
            </thead>
            <tbody>
              {members.map((m) => (
                <tr key={String(m.memberId)}>
                  <td title={String(m.memberId)}>{String(m.clientId ?? m.memberId)}</td>
                  <td>{String(m.host ?? '')}</td>
                  <td>
                    {arr(m.assignment)
                      .map((a) => `${a.topic} [${(a.partitions as number[] | undefined)?.join(', ')}]`)
                      .join('; ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Properties">
        <KeyValues data={p} label="Properties" />
      </Section>
    </>
  )
}

function ConnectorView({ asset }: { asset: Asset }) {
  const p = obj(asset.properties)
  const l = obj(asset.live)
  const tasks = arr(l.tasks)
  return (
    <>
      <div className="stats" aria-label="Connector summary">
        <Stat label="State" value={l.state ? <StateTag state={String(l.state)} /> : '—'} />
        <Stat label="Type" value={p.type} />
        <Stat label="Tasks" value={`${num(l.tasksTotal) ?? tasks.length} (${num(l.tasksFailed) ?? 0} failed)`} warn={(num(l.tasksFailed) ?? 0) > 0} />
        <Stat label="Worker" value={l.workerId} />
      </div>
      <p>
        <code>{String(p.class ?? '')}</code>
      </p>
      {arr(p.lineageNotes).length > 0 && (
        <ul className="notes" aria-label="Lineage notes">
          {(p.lineageNotes as unknown as string[]).map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
      <Section title="Tasks">
        <table className="grid" aria-label="Tasks">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">State</th>
              <th scope="col">Worker</th>
              <th scope="col">Trace</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={String(t.id)}>
                <td>{String(t.id)}</td>
                <td>
                  <StateTag state={String(t.state)} />
                </td>
                <td>{String(t.workerId ?? '')}</td>
                <td>{t.trace ? <pre className="trace">{String(t.trace)}</pre> : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Reads">
        <NeighbourList ns={by(asset.upstream, ['CONSUMES', 'CAPTURES'])} empty="Reads nothing known." />
      </Section>
      <Section title="Writes">
        <NeighbourList ns={by(asset.downstream, ['PRODUCES', 'SINKS'])} empty="Writes nothing known." />
      </Section>
      {arr(p.transforms).length > 0 && (
        <Section title="Transforms (SMTs)">
          <ol className="transforms">
            {arr(p.transforms).map((t) => (
              <li key={String(t.name)}>
                <strong>{String(t.name)}</strong> <code>{String(t.type)}</code>
              </li>
            ))}
          </ol>
        </Section>
      )}
      <Section title="Configuration">
        <p className="hint">Secrets are redacted by the crawler before they reach the catalog.</p>
        <KeyValues data={obj(p.config)} label="Connector configuration" />
      </Section>
    </>
  )
}

function TableView({ asset }: { asset: Asset }) {
  return (
    <>
      <Section title={asset.kind === 'TABLE' ? 'Columns' : 'Fields'}>
        <FieldTree urn={asset.urn} label={asset.kind === 'TABLE' ? 'Columns' : 'Fields'} />
      </Section>
      <Section title="Written by">
        <NeighbourList ns={by(asset.upstream, ['SINKS', 'PRODUCES', 'DERIVES'])} empty="Nothing known writes it." />
      </Section>
      <Section title="Read by">
        <NeighbourList ns={by(asset.downstream, ['CAPTURES', 'CONSUMES', 'DERIVES'])} empty="Nothing known reads it." />
      </Section>
      <Section title="Properties">
        <KeyValues data={obj(asset.properties)} label="Properties" />
      </Section>
    </>
  )
}

function FieldView({ asset }: { asset: Asset }) {
  const p = obj(asset.properties)
  const parent = by(asset.upstream, ['CONTAINS'])
  return (
    <>
      <div className="stats" aria-label="Field summary">
        <Stat label="Type" value={p.type ?? p.dataType} />
        <Stat label="Nullable" value={p.nullable === undefined ? undefined : String(p.nullable)} />
        <Stat label="In" value={parent[0] ? <AssetLink asset={parent[0].asset} /> : undefined} />
      </div>
      <Section title="Derived from">
        <NeighbourList ns={by(asset.upstream, ['DERIVES'])} empty="No known upstream field." />
      </Section>
      <Section title="Flows into">
        <NeighbourList ns={by(asset.downstream, ['DERIVES'])} empty="No known downstream field." />
      </Section>
      {by(asset.downstream, ['CONTAINS']).length > 0 && (
        <Section title="Nested fields">
          <FieldTree urn={asset.urn} />
        </Section>
      )}
      <Section title="Properties">
        <KeyValues data={p} label="Properties" />
      </Section>
    </>
  )
}

function JobView({ asset }: { asset: Asset }) {
  return (
    <>
      <Section title="Inputs">
        <NeighbourList ns={by(asset.upstream, ['CONSUMES'])} empty="No inputs known." />
      </Section>
      <Section title="Outputs">
        <NeighbourList ns={by(asset.downstream, ['PRODUCES', 'SINKS'])} empty="No outputs known." />
      </Section>
      <GenericView asset={asset} />
    </>
  )
}

function PrincipalView({ asset }: { asset: Asset }) {
  const p = obj(asset.properties)
  const acls = arr(p.acls)
  return (
    <>
      <Section title="May read">
        <NeighbourList ns={by(asset.upstream, ['CAN_READ'])} empty="Reads no topic." />
      </Section>
      <Section title="May write">
        <NeighbourList ns={by(asset.downstream, ['CAN_WRITE'])} empty="Writes no topic." />
      </Section>
      <Section title="ACLs">
        <table className="grid" aria-label="ACLs">
          <thead>
            <tr>
              <th scope="col">Permission</th>
              <th scope="col">Operation</th>
              <th scope="col">Resource</th>
              <th scope="col">Pattern</th>
              <th scope="col">Host</th>
            </tr>
          </thead>
          <tbody>
            {acls.map((a, i) => (
              <tr key={i}>
                <td>
                  <span className={'tag ' + (a.permission === 'DENY' ? 'danger' : 'ok')}>{String(a.permission)}</span>
                </td>
                <td>{String(a.operation)}</td>
                <td>
                  {String(a.resourceType)} <code>{String(a.resource)}</code>
                </td>
                <td>{String(a.patternType)}</td>
                <td>{String(a.host)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  )
}

function VersionView({ asset }: { asset: Asset }) {
  const p = obj(asset.properties)
  const subject = by(asset.upstream, ['HAS_SCHEMA'])[0]
  return (
    <>
      <div className="stats">
        <Stat label="Subject" value={subject ? <AssetLink asset={subject.asset} /> : String(p.subject ?? '')} />
        <Stat label="Version" value={p.version} />
        <Stat label="Schema id" value={p.schemaId} />
        <Stat label="Type" value={p.schemaType} />
      </div>
      <Section title="Schema">
        <SchemaDiff before={String(p.schema ?? '')} after={String(p.schema ?? '')} title={`v${p.version}`} />
      </Section>
    </>
  )
}

function Stat({ label, value, warn }: { label: string; value: unknown; warn?: boolean }) {
  return (
    <div className={'stat' + (warn ? ' warn' : '')}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value === undefined || value === null || value === '' ? '—' : typeof value === 'object' ? (value as React.ReactNode) : String(value)}</div>
    </div>
  )
}

export function StateTag({ state }: { state: string }) {
  const s = state.toUpperCase()
  const cls = ['RUNNING', 'STABLE', 'SUCCEEDED'].includes(s) ? 'ok' : ['FAILED', 'DEAD', 'UNASSIGNED'].includes(s) ? 'danger' : 'warn'
  return <span className={'tag ' + cls}>{state}</span>
}

function LagBar({ lag, max }: { lag: number; max: number }) {
  return (
    <span className="lagbar">
      <span className="lagbar-fill" style={{ width: max ? `${(lag / max) * 100}%` : 0 }} aria-hidden="true" />
      {lag}
    </span>
  )
}

/** Provenance summarises an edge's claims: which sources assert it, how, and since when. */
export function Provenance({ n }: { n: Neighbor }) {
  const e = n.edge
  return (
    <span className="provenance" title={e.claims.map((c) => `${c.source} (${c.origin ?? '?'})${c.transform ? ' via ' + c.transform : ''}, confidence ${c.confidence}`).join('\n')}>
      {e.claims.map((c) => c.origin ?? c.source).join(', ')}
      {e.masking && <span className="tag mask">masking</span>}
    </span>
  )
}

function NeighbourList({ ns, empty }: { ns: Neighbor[]; empty: string }) {
  if (ns.length === 0) return <p className="muted">{empty}</p>
  return (
    <ul className="neighbours">
      {ns.map((n) => (
        <li key={n.edge.kind + n.asset.urn}>
          <AssetLink asset={n.asset} />
          <Badges asset={n.asset} />
          <span className="edge-kind">{n.edge.kind.toLowerCase()}</span>
          <Provenance n={n} />
        </li>
      ))}
    </ul>
  )
}

/** Neighbours lists every edge of the asset, grouped by direction and kind, with provenance. */
export function Neighbours({ asset }: { asset: Asset }) {
  const groups = (ns: Neighbor[]) => {
    const m = new Map<string, Neighbor[]>()
    for (const n of ns) m.set(n.edge.kind, [...(m.get(n.edge.kind) ?? []), n])
    return [...m.entries()]
  }
  return (
    <Section title="All edges">
      <div className="two">
        {(['upstream', 'downstream'] as const).map((dir) => (
          <div key={dir}>
            <h3>{dir === 'upstream' ? 'Upstream (points here)' : 'Downstream (points from here)'}</h3>
            {asset[dir].length === 0 && <p className="muted">None.</p>}
            {groups(asset[dir]).map(([kind, ns]) => (
              <details key={kind} open={ns.length <= 8}>
                <summary>
                  {kind.toLowerCase()} ({ns.length})
                </summary>
                <table className="grid compact" aria-label={`${dir} ${kind}`}>
                  <tbody>
                    {ns.map((n) => (
                      <tr key={n.asset.urn}>
                        <td>
                          <AssetLink asset={n.asset} />
                        </td>
                        <td>
                          {n.edge.claims.map((c) => (
                            <div key={c.source + c.origin} className="claim">
                              <strong>{c.source}</strong> · {c.origin ?? '—'}
                              {c.transform && <> · via <code>{c.transform}</code></>} · {Math.round(c.confidence * 100)}% · since <Time at={c.firstSeen} />
                            </div>
                          ))}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </details>
            ))}
          </div>
        ))}
      </div>
    </Section>
  )
}

