// Activity: the change log, newest first, with live entries arriving on top.
import { useEffect, useMemo, useState } from 'react'
import { useClient, type CombinedError } from 'urql'
import { Link } from 'wouter'
import { RecentChangesQuery } from '../api/operations'
import { useRecentChanges, type Change } from '../api/live'
import { assetPath } from '../api/urn'
import { ErrorMessage, Time } from '../components/ui'

/** ChangeList renders change-log entries. */
export function ChangeList({ changes }: { changes: Change[] }) {
  if (changes.length === 0) return <p className="muted">No changes yet.</p>
  return (
    <ol className="changes" aria-label="Changes">
      {changes.map((c) => (
        <li key={c.id} className={'change t-' + c.type.split('.')[0]}>
          <span className="c-type">{c.type}</span>
          {c.subject && (
            <Link href={assetPath(c.subject)} className="c-subject" title={c.subject}>
              {c.subject}
            </Link>
          )}
          <span className="c-meta">
            <Time at={c.time} /> · {c.actor ?? c.source}
          </span>
        </li>
      ))}
    </ol>
  )
}

export function ChangesPage() {
  const recent = useRecentChanges()
  const [filter, setFilter] = useState('')
  const { tail, error } = useChangeTail(500)
  const all = useMemo(() => {
    const seen = new Set<string>()
    return [...recent, ...tail].filter((c) => !seen.has(c.id) && (seen.add(c.id), true))
  }, [recent, tail])
  const shown = filter ? all.filter((c) => c.type.includes(filter) || (c.subject ?? '').includes(filter)) : all
  return (
    <div className="page">
      <h1>Activity</h1>
      <p className="hint">Every committed change, as it happens (the `changes` subscription). Older entries: the first page of the log.</p>
      <label className="filter">
        Filter by type or URN
        <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="classification., urn:topic:…" />
      </label>
      <ErrorMessage error={error} what="Change log" />
      <ChangeList changes={shown.slice(0, 500)} />
    </div>
  )
}

/**
 * useChangeTail reads the newest n entries of the change log, newest first.
 * The log pages oldest first, so it walks forward (at most 40 pages).
 */
export function useChangeTail(n: number): { tail: Change[]; error?: CombinedError } {
  const client = useClient()
  const [state, setState] = useState<{ tail: Change[]; error?: CombinedError }>({ tail: [] })
  useEffect(() => {
    let cancelled = false
    ;(async () => {
      let after: string | null = null
      let tail: Change[] = []
      for (let page = 0; page < 40 && !cancelled; page++) {
        const res = await client.query(RecentChangesQuery, { after, first: 500 }, { requestPolicy: 'network-only' }).toPromise()
        if (res.error || !res.data) {
          if (!cancelled) setState({ tail, error: res.error })
          return
        }
        tail = [...tail, ...res.data.changes.edges.map((e) => e.node)].slice(-n)
        if (!res.data.changes.pageInfo.hasNextPage || !res.data.changes.pageInfo.endCursor) break
        after = res.data.changes.pageInfo.endCursor
      }
      if (!cancelled) setState({ tail: tail.reverse() })
    })()
    return () => {
      cancelled = true
    }
  }, [client, n])
  return state
}
