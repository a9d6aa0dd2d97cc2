import { useMemo, useState } from 'react'
import { useQuery } from 'urql'
import { AssetQuery } from '../api/operations'
import { AssetLink, ErrorMessage, Loading, Time } from '../components/ui'
import { lineDiff } from './diff'

/** SchemaVersions lists a subject's versions and shows the diff between any two. */
export function SchemaVersions({ subject }: { subject: string }) {
  const [{ data, error, fetching }] = useQuery({ query: AssetQuery, variables: { urn: subject } })
  const versions = useMemo(
    () =>
      (data?.asset.downstream ?? [])
        .filter((n) => n.edge.kind === 'HAS_SCHEMA' && n.asset.kind === 'SCHEMA_VERSION')
        .map((n) => ({ asset: n.asset, p: (n.asset.properties ?? {}) as Record<string, unknown>, since: n.edge.claims[0]?.firstSeen }))
        .sort((x, y) => Number(y.p.version ?? 0) - Number(x.p.version ?? 0)),
    [data],
  )
  const [sel, setSel] = useState<{ from?: string; to?: string }>({})
  if (error) return <ErrorMessage error={error} what="Schema versions" />
  if (!data) return fetching ? <Loading what="Loading schema versions" /> : null
  const p = (data.asset.properties ?? {}) as Record<string, unknown>
  const to = versions.find((v) => v.asset.urn === sel.to) ?? versions[0]
  const from = versions.find((v) => v.asset.urn === sel.from) ?? versions.find((v) => v !== to)
  return (
    <div className="schema-versions">
      <p>
        <AssetLink asset={data.asset} /> · {String(p.schemaType ?? '')} · compatibility <code>{String(p.compatibility ?? '—')}</code>
        {p.mode ? <> · mode <code>{String(p.mode)}</code></> : null}
      </p>
      <table className="grid" aria-label="Schema versions">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Schema id</th>
            <th scope="col">Fields</th>
            <th scope="col">Seen</th>
            <th scope="col">Compare</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.asset.urn}>
              <td>
                <AssetLink asset={v.asset} showKind={false} />
              </td>
              <td>{String(v.p.schemaId ?? '')}</td>
              <td>{String(v.p.fieldCount ?? '')}</td>
              <td>
                <Time at={v.since} />
              </td>
              <td className="compare">
                <label>
                  <input type="radio" name="diff-from" checked={from === v} onChange={() => setSel({ ...sel, from: v.asset.urn })} /> old
                </label>
                <label>
                  <input type="radio" name="diff-to" checked={to === v} onChange={() => setSel({ ...sel, to: v.asset.urn })} /> new
                </label>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {to && <SchemaDiff before={from ? String(from.p.schema ?? '') : ''} after={String(to.p.schema ?? '')} title={from ? `v${from.p.version} → v${to.p.version}` : `v${to.p.version}`} />}
    </div>
  )
}

export function SchemaDiff({ before, after, title }: { before: string; after: string; title: string }) {
  const lines = useMemo(() => lineDiff(before, after), [before, after])
  const added = lines.filter((l) => l.kind === 'add').length
  const removed = lines.filter((l) => l.kind === 'del').length
  return (
    <figure className="diff">
      <figcaption>
        {title}: <span className="add-count">+{added}</span> <span className="del-count">−{removed}</span>
      </figcaption>
      <pre aria-label={`Schema diff ${title}`} tabIndex={0}>
        {lines.map((l, i) => (
          <div key={i} className={'dl dl-' + l.kind}>
            <span className="ln" aria-hidden="true">{l.a ?? ''}</span>
            <span className="ln" aria-hidden="true">{l.b ?? ''}</span>
            <span className="mark">{l.kind === 'add' ? '+' : l.kind === 'del' ? '−' : ' '}</span>
            {l.text}
          </div>
        ))}
      </pre>
    </figure>
  )
}
