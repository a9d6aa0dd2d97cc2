// Small presentational pieces shared by every page.
import { Link } from 'wouter'
import type { CombinedError } from '@urql/core'
import type { AssetKind, AssetSummaryFragment } from '../gql/graphql'
import { assetPath, containerOf, fieldPath } from '../api/urn'
import { nameFromURN } from '../api/names'
import { errorMessage } from '../api/client'
import { useEffect, useState, type ReactNode } from 'react'

export const kindLabels: Record<AssetKind, string> = {
  KAFKA_CLUSTER: 'Kafka cluster',
  BROKER: 'Broker',
  TOPIC: 'Topic',
  SCHEMA_REGISTRY: 'Schema registry',
  SCHEMA_SUBJECT: 'Schema subject',
  SCHEMA_VERSION: 'Schema version',
  FIELD: 'Field',
  CONSUMER_GROUP: 'Consumer group',
  PRINCIPAL: 'Principal',
  CONNECT_CLUSTER: 'Connect cluster',
  CONNECTOR: 'Connector',
  DATABASE: 'Database',
  TABLE: 'Table',
  COLUMN: 'Column',
  JOB: 'Job',
  DATASET: 'Dataset',
  VIOLATION: 'Violation',
  POLICY: 'Policy',
  CRAWL_RUN: 'Crawl run',
}

const kindGlyphs: Record<AssetKind, string> = {
  KAFKA_CLUSTER: 'KC',
  BROKER: 'BR',
  TOPIC: 'T',
  SCHEMA_REGISTRY: 'SR',
  SCHEMA_SUBJECT: 'S',
  SCHEMA_VERSION: 'V',
  FIELD: 'F',
  CONSUMER_GROUP: 'G',
  PRINCIPAL: 'P',
  CONNECT_CLUSTER: 'CC',
  CONNECTOR: 'C',
  DATABASE: 'DB',
  TABLE: 'TB',
  COLUMN: 'CO',
  JOB: 'J',
  DATASET: 'D',
  VIOLATION: '!',
  POLICY: 'PO',
  CRAWL_RUN: 'R',
}

/** KindIcon is a compact, colour-coded kind marker with the kind's name for screen readers. */
export function KindIcon({ kind, decorative = false }: { kind: AssetKind; decorative?: boolean }) {
  if (decorative) {
    return (
      <span className={'kind kind-' + kind.toLowerCase()} aria-hidden="true">
        {kindGlyphs[kind]}
      </span>
    )
  }
  return (
    <span className={'kind kind-' + kind.toLowerCase()} title={kindLabels[kind]} aria-label={kindLabels[kind]} role="img">
      {kindGlyphs[kind]}
    </span>
  )
}

/** ClassificationBadge shows one attachment; propagated ones are outlined and say where from. */
export function ClassificationBadge({
  name,
  direct = true,
  origin,
  source,
  onRemove,
}: {
  name: string
  direct?: boolean
  origin?: string | null
  source?: string
  onRemove?: () => void
}) {
  const family = name.split('.')[0].toLowerCase()
  const title = direct
    ? `${name} (${(source ?? 'manual').toLowerCase().replace('_', ' ')})`
    : `${name}, propagated from ${origin ?? 'upstream'}`
  return (
    <span className={`badge cls cls-${family}${direct ? '' : ' propagated'}`} title={title} data-classification={name}>
      {name}
      {!direct && <span className="sr-only"> (propagated)</span>}
      {onRemove && (
        <button type="button" className="badge-x" onClick={onRemove} aria-label={`Remove ${name}`}>
          ×
        </button>
      )}
    </span>
  )
}

/** Badges shows an asset's classifications, one badge per name (a direct one wins over propagated ones from several origins). */
export function Badges({ asset }: { asset: Pick<AssetSummaryFragment, 'classifications'> }) {
  if (asset.classifications.length === 0) return null
  const seen = new Map<string, AssetSummaryFragment['classifications'][number]>()
  for (const c of asset.classifications) if (!seen.has(c.name) || (c.direct && !seen.get(c.name)!.direct)) seen.set(c.name, c)
  return (
    <span className="badges">
      {[...seen.values()].map((c) => (
        <ClassificationBadge key={c.name} name={c.name} direct={c.direct} origin={c.origin} source={c.source} />
      ))}
    </span>
  )
}

/** qualifiedName names fields and columns with their dataset ("customers › after.email"), others by name. */
export function qualifiedName(a: Pick<AssetSummaryFragment, 'urn' | 'kind' | 'name'>): string {
  if (a.kind === 'FIELD' || a.kind === 'COLUMN') {
    const c = containerOf(a.urn)
    if (c) return `${nameFromURN(c)} › ${fieldPath(a.urn)}`
  }
  return a.name || a.urn
}

/** AssetLink links to an asset page with its kind icon and name (fields and columns qualified by their dataset). */
export function AssetLink({ asset, showKind = true }: { asset: Pick<AssetSummaryFragment, 'urn' | 'kind' | 'name' | 'deleted'>; showKind?: boolean }) {
  return (
    <Link href={assetPath(asset.urn)} className={'asset-link' + (asset.deleted ? ' deleted' : '')} title={asset.urn}>
      {showKind && <KindIcon kind={asset.kind} />}
      <span className="asset-name">{qualifiedName(asset)}</span>
    </Link>
  )
}

/** ErrorMessage shows an API error as a sentence; never a blank page. */
export function ErrorMessage({ error, what }: { error?: CombinedError | Error | null; what?: string }) {
  if (!error) return null
  return (
    <div className="error" role="alert">
      {what && <strong>{what}: </strong>}
      {errorMessage(error)}
    </div>
  )
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      {what}…
    </div>
  )
}

const rtf = typeof Intl !== 'undefined' ? new Intl.RelativeTimeFormat('en', { numeric: 'auto' }) : undefined

/** relativeTime renders an instant relative to now ("3 minutes ago"). */
export function relativeTime(iso: string, now = Date.now()): string {
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return iso
  const s = Math.round((t - now) / 1000)
  const abs = Math.abs(s)
  if (!rtf) return new Date(t).toISOString()
  if (abs < 60) return rtf.format(s, 'second')
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute')
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour')
  return rtf.format(Math.round(s / 86400), 'day')
}

/** Time shows an instant relative to now, kept current every 15 seconds. */
export function Time({ at }: { at?: string | null }) {
  const [, tick] = useState(0)
  useEffect(() => {
    if (!at) return
    const t = setInterval(() => tick((n) => n + 1), 15_000)
    return () => clearInterval(t)
  }, [at])
  if (!at) return <span className="muted">—</span>
  return (
    <time dateTime={at} title={new Date(at).toLocaleString()}>
      {relativeTime(at)}
    </time>
  )
}

export function Section({ title, children, actions, id }: { title: string; children: ReactNode; actions?: ReactNode; id?: string }) {
  const hid = id ?? 'sec-' + title.toLowerCase().replace(/[^a-z0-9]+/g, '-')
  return (
    <section className="section" aria-labelledby={hid}>
      <div className="section-head">
        <h2 id={hid}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  )
}

/** KeyValues renders a flat object as a definition table; nested values as JSON. */
export function KeyValues({ data, label }: { data: Record<string, unknown> | null | undefined; label: string }) {
  const entries = Object.entries(data ?? {}).sort(([a], [b]) => a.localeCompare(b))
  if (entries.length === 0) return <p className="muted">None.</p>
  return (
    <table className="kv" aria-label={label}>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td>
              <Value v={v} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export function Value({ v }: { v: unknown }) {
  if (v === null || v === undefined) return <span className="muted">—</span>
  if (typeof v === 'string') return v === '[redacted]' ? <span className="redacted">redacted</span> : <code>{v}</code>
  if (typeof v === 'number' || typeof v === 'boolean') return <code>{String(v)}</code>
  return <pre className="json">{JSON.stringify(v, null, 2)}</pre>
}

/** Sparkline draws readings (oldest first) as a small line with its latest value. */
export function Sparkline({ points, label, width = 120, height = 28 }: { points: readonly { t: number; v: number }[]; label: string; width?: number; height?: number }) {
  if (points.length === 0) return <span className="muted">no readings yet</span>
  const vs = points.map((p) => p.v)
  const min = Math.min(...vs)
  const max = Math.max(...vs)
  const t0 = points[0].t
  const t1 = points[points.length - 1].t
  const x = (t: number) => (t1 === t0 ? width : ((t - t0) / (t1 - t0)) * (width - 4) + 2)
  const y = (v: number) => (max === min ? height / 2 : height - 3 - ((v - min) / (max - min)) * (height - 6))
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')
  const last = points[points.length - 1]
  return (
    <span className="sparkline">
      <svg width={width} height={height} role="img" aria-label={`${label}: ${points.length} readings, ${min} to ${max}, now ${last.v}`}>
        <path d={d} fill="none" stroke="currentColor" strokeWidth="1.5" />
        <circle cx={x(last.t)} cy={y(last.v)} r="2.5" fill="currentColor" />
      </svg>
    </span>
  )
}
