// Violations: /violations?status=…&policy=…. The policy engine's open and
// resolved violations with their evidence; a steward acknowledges (owns) or
// mutes (freezes) an open one, or lifts a mute. Live: openings, resolutions
// and every acknowledge/mute (asset changes of urn:violation:…) refetch.
import { useEffect, useRef, useState } from 'react'
import { useMutation, useQuery } from 'urql'
import { useLocation, useSearch } from 'wouter'
import { AcknowledgeViolationMutation, MuteViolationMutation, UnmuteViolationMutation, ViolationsQuery } from '../api/operations'
import { useChanges } from '../api/live'
import type { Severity, ViolationFieldsFragment, ViolationStatus } from '../gql/graphql'
import { AssetLink, ClassificationBadge, ErrorMessage, Loading, Time } from '../components/ui'
import { Link } from 'wouter'
import { assetPath } from '../api/urn'
import { stepName } from '../components/Paths'
import { kindOf } from '../api/names'

const tabs: { status: ViolationStatus | ''; label: string }[] = [
  { status: '', label: 'Unresolved' },
  { status: 'OPEN', label: 'New' },
  { status: 'ACKNOWLEDGED', label: 'Acknowledged' },
  { status: 'MUTED', label: 'Muted' },
  { status: 'RESOLVED', label: 'Resolved' },
]

const severityClass: Record<Severity, string> = { LOW: '', MEDIUM: 'warn', HIGH: 'danger', CRITICAL: 'danger strong' }

const muteFor = [
  { v: '86400', label: 'for a day' },
  { v: '604800', label: 'for a week' },
  { v: '2592000', label: 'for 30 days' },
  { v: '', label: 'until unmuted' },
]

export function ViolationsPage() {
  const search = useSearch()
  const [, navigate] = useLocation()
  const params = new URLSearchParams(search)
  const status = (params.get('status') ?? '') as ViolationStatus | ''
  const policy = params.get('policy') ?? ''
  const [{ data, error, fetching }, refetch] = useQuery({
    query: ViolationsQuery,
    variables: { status: status || null, policy: policy || null, first: 200 },
    requestPolicy: 'cache-and-network',
  })
  const pending = useRef<ReturnType<typeof setTimeout>>(undefined)
  useChanges(
    (c) => c.type.startsWith('policy.') || !!c.subject?.startsWith('urn:violation:'),
    () => {
      clearTimeout(pending.current)
      pending.current = setTimeout(() => refetch({ requestPolicy: 'network-only' }), 300)
    },
  )
  useEffect(() => () => clearTimeout(pending.current), [])
  useEffect(() => {
    document.title = 'Violations · Watershed'
  }, [])
  const go = (s: string, p: string) => {
    const q = new URLSearchParams()
    if (s) q.set('status', s)
    if (p) q.set('policy', p)
    navigate('/violations' + (q.toString() ? '?' + q : ''), { replace: true })
  }
  const violations = data?.violations.edges.map((e) => e.node) ?? []
  return (
    <div className="page violations-page">
      <div className="title-row">
        <h1>Violations</h1>
        {fetching && data && (
          <span className="muted small" role="status">
            refreshing…
          </span>
        )}
        <span className="spacer" />
        <div className="seg" role="group" aria-label="Status">
          {tabs.map((t) => (
            <button key={t.label} type="button" aria-pressed={status === t.status} onClick={() => go(t.status, policy)}>
              {t.label}
            </button>
          ))}
        </div>
        <label>
          <span className="sr-only">Policy</span>
          <select aria-label="Policy" value={policy} onChange={(e) => go(status, e.target.value)}>
            <option value="">every policy</option>
            {data?.policies.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name} ({p.openViolations} open)
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorMessage error={error} what="Violations" />
      {!data && !error && <Loading what="Loading violations" />}
      {data && (
        <p className="lead">
          {data.violations.totalCount} {tabs.find((t) => t.status === status)?.label.toLowerCase()} violation{data.violations.totalCount === 1 ? '' : 's'}
          {policy && ` of ${policy}`}
          {data.violations.pageInfo.hasNextPage && ` (showing ${violations.length})`}
        </p>
      )}
      {data && violations.length === 0 && <p className="muted">Nothing here: every asset meets its policies.</p>}
      <ul className="violations plain" aria-label="Violations">
        {violations.map((v) => (
          <ViolationCard key={v.urn} v={v} onChanged={() => refetch({ requestPolicy: 'network-only' })} />
        ))}
      </ul>
    </div>
  )
}

/** ViolationCard shows one violation with its evidence and the steward's actions. */
export function ViolationCard({ v, onChanged }: { v: ViolationFieldsFragment; onChanged?: () => void }) {
  const [mode, setMode] = useState<'ack' | 'mute' | null>(null)
  const [note, setNote] = useState('')
  const [muteSecs, setMuteSecs] = useState('86400')
  const [ack, acknowledge] = useMutation(AcknowledgeViolationMutation)
  const [mut, mute] = useMutation(MuteViolationMutation)
  const [unm, unmute] = useMutation(UnmuteViolationMutation)
  const open = v.status !== 'RESOLVED'
  const subject = v.subject ?? { urn: v.subjectUrn, kind: kindOf(v.subjectUrn) ?? 'DATASET', name: v.subjectUrn, deleted: true, owners: [] }
  const label = `${v.policy} on ${subject.name}`
  const done = (r: { error?: unknown }) => {
    if (!r.error) {
      setMode(null)
      setNote('')
      onChanged?.()
    }
  }
  return (
    <li className={'violation card status-' + v.status.toLowerCase()} aria-label={label} data-urn={v.urn} data-status={v.status}>
      <div className="card-head">
        {v.severity && <span className={'tag ' + severityClass[v.severity]}>{v.severity}</span>}
        <strong>{v.policy}</strong>
        <AssetLink asset={subject} />
        <span className={'tag ' + (v.status === 'OPEN' ? 'danger' : v.status === 'RESOLVED' ? 'ok' : '')}>{v.status.toLowerCase()}</span>
        <span className="spacer" />
        <span className="small muted">
          {v.status === 'RESOLVED' ? (
            <>
              resolved <Time at={v.resolvedAt} />
            </>
          ) : (
            <>
              open since <Time at={v.openedAt} />
            </>
          )}
        </span>
        {open && (
          <span className="v-actions">
            {v.status !== 'ACKNOWLEDGED' && v.status !== 'MUTED' && (
              <button type="button" aria-expanded={mode === 'ack'} onClick={() => setMode(mode === 'ack' ? null : 'ack')}>
                Acknowledge…
              </button>
            )}
            {v.status !== 'MUTED' ? (
              <button type="button" aria-expanded={mode === 'mute'} onClick={() => setMode(mode === 'mute' ? null : 'mute')}>
                Mute…
              </button>
            ) : (
              <button type="button" onClick={() => unmute({ urn: v.urn }).then(done)} disabled={unm.fetching}>
                Unmute
              </button>
            )}
          </span>
        )}
      </div>
      {v.message && <p className="v-message">{v.message}</p>}
      {v.classifications.length > 0 && (
        <span className="badges">
          {v.classifications.map((c) => (
            <ClassificationBadge key={c} name={c} />
          ))}
        </span>
      )}
      {v.acknowledgedAt && (
        <p className="small">
          Acknowledged by <strong>{v.acknowledgedBy || 'anonymous'}</strong> <Time at={v.acknowledgedAt} />
          {v.acknowledgeNote && <>: “{v.acknowledgeNote}”</>}
        </p>
      )}
      {v.status === 'MUTED' && (
        <p className="small">
          Muted by <strong>{v.mutedBy || 'anonymous'}</strong> <Time at={v.mutedAt} />
          {v.mutedUntil ? (
            <>
              {' '}
              until <Time at={v.mutedUntil} />
            </>
          ) : (
            ' until unmuted'
          )}
          {v.muteReason && <>: “{v.muteReason}”</>}
        </p>
      )}
      {v.evidence != null && (
        <details>
          <summary>Evidence</summary>
          <Evidence v={v.evidence} />
        </details>
      )}
      {mode === 'ack' && (
        <form className="row" aria-label={'Acknowledge ' + label} onSubmit={(e) => (e.preventDefault(), acknowledge({ urn: v.urn, note: note.trim() || null }).then(done))}>
          <label>
            Note{' '}
            <input type="text" value={note} onChange={(e) => setNote(e.target.value)} placeholder="who handles it, and how" size={40} />
          </label>
          <button type="submit" className="primary" disabled={ack.fetching}>
            Acknowledge
          </button>
        </form>
      )}
      {mode === 'mute' && (
        <form
          className="row"
          aria-label={'Mute ' + label}
          onSubmit={(e) => {
            e.preventDefault()
            const until = muteSecs ? new Date(Date.now() + Number(muteSecs) * 1000).toISOString() : null
            mute({ urn: v.urn, until, reason: note.trim() || null }).then(done)
          }}
        >
          <label>
            Reason{' '}
            <input type="text" value={note} onChange={(e) => setNote(e.target.value)} placeholder="why it may stay as it is" size={40} />
          </label>
          <label>
            <span className="sr-only">Mute for</span>
            <select aria-label="Mute for" value={muteSecs} onChange={(e) => setMuteSecs(e.target.value)}>
              {muteFor.map((m) => (
                <option key={m.label} value={m.v}>
                  {m.label}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="primary" disabled={mut.fetching}>
            Mute
          </button>
        </form>
      )}
      <ErrorMessage error={ack.error ?? mut.error ?? unm.error} what="Violation" />
    </li>
  )
}

/** Evidence renders a policy's evidence (JSON, per policy) as nested lists, URNs as links to their assets. */
export function Evidence({ v }: { v: unknown }) {
  if (v === null || v === undefined) return <span className="muted">—</span>
  if (typeof v === 'string')
    return v.startsWith('urn:') ? (
      <Link href={assetPath(v)} title={v}>
        {stepName(v)}
      </Link>
    ) : (
      <code>{v}</code>
    )
  if (typeof v !== 'object') return <code>{String(v)}</code>
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== 'object' || x === null))
      return (
        <span className="ev-inline">
          {v.map((x, i) => (
            <span key={i}>
              {i > 0 && ', '}
              <Evidence v={x} />
            </span>
          ))}
        </span>
      )
    const flat = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every((y) => typeof y !== 'object' || y === null)
    if (v.every(flat)) {
      const cols = [...new Set(v.flatMap((x) => Object.keys(x as object)))]
      return (
        <table className="grid compact ev-table">
          <thead>
            <tr>
              {cols.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {v.map((x, i) => (
              <tr key={i}>
                {cols.map((c) => (
                  <td key={c}>
                    <Evidence v={(x as Record<string, unknown>)[c]} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )
    }
    return (
      <ol className="ev-list">
        {v.map((x, i) => (
          <li key={i}>
            <Evidence v={x} />
          </li>
        ))}
      </ol>
    )
  }
  return (
    <dl className="ev">
      {Object.entries(v as Record<string, unknown>).map(([k, x]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>
            <Evidence v={x} />
          </dd>
        </div>
      ))}
    </dl>
  )
}

export default ViolationsPage
