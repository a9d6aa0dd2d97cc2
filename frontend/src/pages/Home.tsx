import { useQuery } from 'urql'
import { Link } from 'wouter'
import { KindFacetsQuery, SourcesQuery, ViolationCountsQuery } from '../api/operations'
import { useChanges, useRecentChanges } from '../api/live'
import { ErrorMessage, KindIcon, kindLabels, Time } from '../components/ui'
import { useMemo } from 'react'
import { ChangeList, useChangeTail } from './ChangesPage'
import type { AssetKind } from '../gql/graphql'

const shown: AssetKind[] = ['TOPIC', 'CONSUMER_GROUP', 'CONNECTOR', 'TABLE', 'FIELD', 'COLUMN', 'JOB', 'DATASET', 'PRINCIPAL', 'SCHEMA_SUBJECT']

export function Home() {
  const [counts] = useQuery({ query: KindFacetsQuery, variables: {} })
  const [sources] = useQuery({ query: SourcesQuery })
  const [violations, refetchViolations] = useQuery({ query: ViolationCountsQuery })
  useChanges(
    (c) => c.type.startsWith('policy.') || !!c.subject?.startsWith('urn:violation:'),
    () => refetchViolations({ requestPolicy: 'network-only' }),
  )
  const v = violations.data
  const live = useRecentChanges()
  const { tail } = useChangeTail(12)
  const recent = useMemo(() => {
    const seen = new Set<string>()
    return [...live, ...tail].filter((c) => !seen.has(c.id) && (seen.add(c.id), true))
  }, [live, tail])
  const c = counts.data as unknown as Record<string, { totalCount: number }> | undefined
  return (
    <div className="page home">
      <h1>Catalog</h1>
      <p className="lead">
        Press <kbd>/</kbd> to search topics, fields, tables and connectors. {c ? `${c.all.totalCount} assets.` : ''}
      </p>
      <ErrorMessage error={counts.error} what="Catalog" />
      {v && (
        <p className={'home-violations ' + (v.unresolved.totalCount ? 'some' : 'none')}>
          {v.unresolved.totalCount === 0 ? (
            'No policy violations: every asset meets its policies.'
          ) : (
            <Link href="/violations">
              {v.unresolved.totalCount} unresolved policy violation{v.unresolved.totalCount === 1 ? '' : 's'}
              {v.new.totalCount ? `, ${v.new.totalCount} not acknowledged yet` : ''} →
            </Link>
          )}
        </p>
      )}
      <ul className="tiles" aria-label="Assets by kind">
        {shown.map((k) => (
          <li key={k}>
            <Link href={'/search?kind=' + k} className="tile">
              <KindIcon kind={k} />
              <span className="tile-n">{c?.[k]?.totalCount ?? '…'}</span>
              <span className="tile-l">{kindLabels[k]}</span>
            </Link>
          </li>
        ))}
      </ul>
      <div className="two">
        <section aria-labelledby="home-sources">
          <h2 id="home-sources">
            <Link href="/sources">Sources</Link>
          </h2>
          <ErrorMessage error={sources.error} what="Sources" />
          <ul className="plain">
            {sources.data?.sources.map((s) => (
              <li key={s.name}>
                <strong>{s.name}</strong> <span className="muted">{s.kind}</span> ·{' '}
                {s.lastRun ? (
                  <>
                    <span className={'tag ' + (s.lastRun.status === 'SUCCEEDED' ? 'ok' : s.lastRun.status === 'PARTIAL' ? 'warn' : 'danger')}>{s.lastRun.status.toLowerCase()}</span>{' '}
                    <Time at={s.lastRun.startedAt} />
                  </>
                ) : (
                  'not crawled yet'
                )}
              </li>
            ))}
          </ul>
        </section>
        <section aria-labelledby="home-activity">
          <h2 id="home-activity">
            <Link href="/changes">Live activity</Link>
          </h2>
          <ChangeList changes={recent.slice(0, 12)} />
        </section>
      </div>
    </div>
  )
}
