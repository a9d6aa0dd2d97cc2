// Sources: status, errors, crawl now; crawl runs below. Refreshes on crawl events.
import { useState } from 'react'
import { useMutation, useQuery } from 'urql'
import { useSearch, useLocation } from 'wouter'
import { CrawlMutation, CrawlRunsQuery, SourcesQuery } from '../api/operations'
import { useChanges } from '../api/live'
import type { CrawlRunFieldsFragment } from '../gql/graphql'
import { ErrorMessage, Loading, Section, Time } from '../components/ui'

export function SourcesPage() {
  const [{ data, error }, refetch] = useQuery({ query: SourcesQuery })
  const search = useSearch()
  const [, navigate] = useLocation()
  const source = new URLSearchParams(search).get('source') ?? undefined
  const [runs, refetchRuns] = useQuery({ query: CrawlRunsQuery, variables: { source, first: 50 } })
  const [crawlRes, crawl] = useMutation(CrawlMutation)
  const [crawling, setCrawling] = useState<string | null>(null)
  useChanges(
    (c) => c.type.startsWith('crawl.'),
    () => {
      refetch({ requestPolicy: 'network-only' })
      refetchRuns({ requestPolicy: 'network-only' })
    },
  )
  const crawlNow = async (name: string) => {
    setCrawling(name)
    await crawl({ source: name })
    setCrawling(null)
    refetch({ requestPolicy: 'network-only' })
    refetchRuns({ requestPolicy: 'network-only' })
  }
  return (
    <div className="page">
      <h1>Sources</h1>
      <ErrorMessage error={error} what="Sources" />
      {!data && !error && <Loading />}
      {data && data.sources.length === 0 && <p className="muted">No sources are configured. Add them under `sources:` in the config file.</p>}
      <div className="cards">
        {data?.sources.map((s) => (
          <article key={s.name} className={'card source-card status-' + (s.lastRun?.status ?? 'none').toLowerCase()} aria-labelledby={'src-' + s.name}>
            <div className="card-head">
              <h2 id={'src-' + s.name}>{s.name}</h2>
              <span className="tag">{s.kind}</span>
              {s.lastRun && <RunStatus status={s.lastRun.status} />}
            </div>
            <dl className="facts">
              <dt>Schedule</dt>
              <dd>
                <code>{s.schedule || 'manual'}</code>
              </dd>
              <dt>Next run</dt>
              <dd>{s.running ? <span className="tag warn">running now</span> : <Time at={s.nextRun} />}</dd>
              <dt>Last run</dt>
              <dd>
                {s.lastRun ? (
                  <>
                    <Time at={s.lastRun.startedAt} /> · {s.lastRun.durationMs} ms · {s.lastRun.changes} changes
                  </>
                ) : (
                  'never'
                )}
              </dd>
            </dl>
            {s.lastRun && s.lastRun.errors.length > 0 && (
              <ul className="errors" aria-label={`Errors of ${s.name}`}>
                {s.lastRun.errors.map((e, i) => (
                  <li key={i}>{e}</li>
                ))}
              </ul>
            )}
            <div className="row">
              <button type="button" className="primary" onClick={() => crawlNow(s.name)} disabled={s.running || crawling === s.name}>
                {crawling === s.name ? 'Crawling…' : 'Crawl now'}
              </button>
              <button type="button" onClick={() => navigate(source === s.name ? '/sources' : '/sources?source=' + encodeURIComponent(s.name))}>
                {source === s.name ? 'All runs' : 'Runs of ' + s.name}
              </button>
            </div>
          </article>
        ))}
      </div>
      <ErrorMessage error={crawlRes.error} what="Crawl" />
      <Section title={source ? `Crawl runs of ${source}` : 'Crawl runs'}>
        <ErrorMessage error={runs.error} what="Crawl runs" />
        {runs.data && <CrawlRuns runs={runs.data.crawlRuns} />}
      </Section>
    </div>
  )
}

function RunStatus({ status }: { status: string }) {
  return <span className={'tag ' + (status === 'SUCCEEDED' ? 'ok' : status === 'PARTIAL' ? 'warn' : 'danger')}>{status.toLowerCase()}</span>
}

export function CrawlRuns({ runs }: { runs: CrawlRunFieldsFragment[] }) {
  if (runs.length === 0) return <p className="muted">No crawl runs yet.</p>
  return (
    <table className="grid" aria-label="Crawl runs">
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">Source</th>
          <th scope="col">Trigger</th>
          <th scope="col">Status</th>
          <th scope="col">Took</th>
          <th scope="col">Assets</th>
          <th scope="col">Created / updated / deleted</th>
          <th scope="col">Edges + / −</th>
          <th scope="col">Kept</th>
          <th scope="col">Changes</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => {
          const counts = (r.counts ?? {}) as Record<string, number>
          const assets = Object.entries(counts).filter(([k]) => k !== 'links')
          return (
            <tr key={r.urn}>
              <td>
                <Time at={r.startedAt} />
              </td>
              <td>{r.source}</td>
              <td>{r.trigger}</td>
              <td>
                <RunStatus status={r.status} />
                {r.errors.length > 0 && (
                  <details>
                    <summary>{r.errors.length} error(s)</summary>
                    <ul className="errors">
                      {r.errors.map((e, i) => (
                        <li key={i}>{e}</li>
                      ))}
                    </ul>
                  </details>
                )}
              </td>
              <td className="num">{r.durationMs} ms</td>
              <td title={assets.map(([k, v]) => `${k}: ${v}`).join('\n')} className="num">
                {assets.reduce((s, [, v]) => s + v, 0)}
              </td>
              <td className="num">
                {r.created} / {r.updated} / {r.deleted}
              </td>
              <td className="num">
                {r.edgesAdded} / {r.edgesRemoved}
              </td>
              <td className="num">{r.kept}</td>
              <td className="num">{r.changes}</td>
            </tr>
          )
        })}
      </tbody>
    </table>
  )
}
