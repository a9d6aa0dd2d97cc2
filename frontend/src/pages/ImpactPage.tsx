// Impact: /impact/<urn>?depth=N. Everything downstream of an asset, grouped
// by kind, each with its hop count, owners, (for consumer groups) state and
// lag, and one explaining path; from a field or column only what derives
// from it (field level), telling exact answers from readers without field
// lineage. Refreshes when lineage changes.
import { useEffect, useRef } from 'react'
import { useQuery } from 'urql'
import { Link, useLocation, useSearch } from 'wouter'
import { ImpactQuery } from '../api/operations'
import { fieldPath, impactPath, lineagePath, urnFromPath } from '../api/urn'
import { useChanges } from '../api/live'
import type { ImpactQuery as ImpactResult } from '../gql/graphql'
import { AssetLink, Badges, ErrorMessage, Loading, Section } from '../components/ui'
import { PathSteps } from '../components/Paths'
import { nameFromURN } from '../api/names'

type Impact = ImpactResult['impact']
export type Impacted = Impact['consumerGroups'][number]

const groups: { key: keyof Pick<Impact, 'consumerGroups' | 'connectors' | 'jobs' | 'datasets' | 'topics' | 'fields' | 'other'>; title: string }[] = [
  { key: 'consumerGroups', title: 'Consumer groups' },
  { key: 'connectors', title: 'Connectors' },
  { key: 'jobs', title: 'Jobs' },
  { key: 'datasets', title: 'Tables and datasets' },
  { key: 'topics', title: 'Topics' },
  { key: 'fields', title: 'Fields and columns' },
  { key: 'other', title: 'Other' },
]

const depths = [
  { v: '0', label: 'all' },
  { v: '1', label: '1 hop' },
  { v: '2', label: '2 hops' },
  { v: '3', label: '3 hops' },
  { v: '5', label: '5 hops' },
]

export function ImpactPage() {
  useLocation()
  const search = useSearch()
  const [, navigate] = useLocation()
  const urn = urnFromPath(window.location.pathname, '/impact/')
  const depth = Number(new URLSearchParams(search).get('depth') ?? '0') || 0
  const [{ data, error, fetching }, refetch] = useQuery({ query: ImpactQuery, variables: { urn, depth, limit: 2000 } })
  const impact = data?.impact
  const pending = useRef<ReturnType<typeof setTimeout>>(undefined)
  useChanges(
    (c) => c.type.startsWith('lineage.') || c.type === 'asset.created' || c.type === 'asset.deleted',
    () => {
      clearTimeout(pending.current)
      pending.current = setTimeout(() => refetch({ requestPolicy: 'network-only' }), 500)
    },
  )
  useEffect(() => () => clearTimeout(pending.current), [])
  useEffect(() => {
    document.title = 'Impact of ' + (impact?.root.name ?? urn) + ' · Watershed'
  }, [impact?.root.name, urn])

  const total = impact ? groups.reduce((n, g) => n + impact[g.key].length, 0) : 0
  return (
    <div className="page impact-page">
      <div className="title-row">
        <h1>Impact</h1>
        {impact && <AssetLink asset={impact.root} />}
        <span className="spacer" />
        <label>
          Depth{' '}
          <select
            value={String(depth)}
            onChange={(e) => navigate(impactPath(urn) + (e.target.value === '0' ? '' : '?depth=' + e.target.value))}
          >
            {depths.map((d) => (
              <option key={d.v} value={d.v}>
                {d.label}
              </option>
            ))}
          </select>
        </label>
        <Link href={lineagePath(urn, { dir: 'down' })} className="button">
          Lineage graph
        </Link>
      </div>
      <p className="urn">
        <code>{urn}</code>
      </p>
      <ErrorMessage error={error} what="Impact" />
      {!data && !error && <Loading what="Walking downstream" />}
      {impact && (
        <>
          <p className="lead" role="status">
            {total === 0 ? 'Nothing is downstream of this asset.' : `${total} asset${total === 1 ? '' : 's'} downstream`}
            {impact.level === 'FIELD' && total > 0 && ' of this field: field lineage first, then readers of the datasets holding those fields (not exact).'}
            {impact.truncated && ' — the answer was cut short; narrow the depth.'}
            {fetching && <span className="muted"> · refreshing…</span>}
          </p>
          <div className="impact-summary" aria-label="Impact by kind">
            {groups
              .filter((g) => impact[g.key].length > 0)
              .map((g) => (
                <a key={g.key} className="tile" href={'#imp-' + g.key}>
                  <span className="tile-n">{impact[g.key].length}</span>
                  <span className="tile-l">{g.title}</span>
                </a>
              ))}
          </div>
          {groups
            .filter((g) => impact[g.key].length > 0)
            .map((g) => (
              <Section key={g.key} id={'imp-' + g.key} title={`${g.title} (${impact[g.key].length})`}>
                <ImpactTable rows={impact[g.key]} title={g.title} groupKey={g.key} fieldLevel={impact.level === 'FIELD'} />
              </Section>
            ))}
        </>
      )}
    </div>
  )
}

export function ImpactTable({ rows, title, groupKey, fieldLevel }: { rows: Impacted[]; title: string; groupKey: string; fieldLevel: boolean }) {
  const groupsCol = groupKey === 'consumerGroups'
  return (
    <table className="grid" aria-label={title}>
      <thead>
        <tr>
          <th scope="col">Asset</th>
          <th scope="col" className="num">
            Hops
          </th>
          <th scope="col">Owners</th>
          {groupsCol && <th scope="col">State</th>}
          {groupsCol && (
            <th scope="col" className="num">
              Lag
            </th>
          )}
          {fieldLevel && <th scope="col">Fields</th>}
          <th scope="col">Why (path)</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.asset.urn} data-urn={r.asset.urn}>
            <td>
              <AssetLink asset={r.asset} />
              <Badges asset={r.asset} />
              {fieldLevel && !r.exact && (
                <span className="tag warn" title="It reads a dataset holding an impacted field; no field lineage says whether it uses that field">
                  not exact
                </span>
              )}
            </td>
            <td className="num">{r.hops}</td>
            <td>{r.asset.owners.length ? r.asset.owners.join(', ') : <span className="muted">—</span>}</td>
            {groupsCol && <td>{r.state ? <span className={'tag ' + (r.state === 'Stable' ? 'ok' : r.state === 'Dead' || r.state === 'Empty' ? '' : 'warn')}>{r.state}</span> : <span className="muted">—</span>}</td>}
            {groupsCol && <td className="num">{r.lag ?? '—'}</td>}
            {fieldLevel && <td className="small">{r.fields.length ? r.fields.map((f) => fieldPath(f) || nameFromURN(f)).join(', ') : <span className="muted">—</span>}</td>}
            <td>
              <PathSteps path={r.path} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export default ImpactPage
