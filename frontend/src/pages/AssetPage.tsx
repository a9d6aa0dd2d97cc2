// The asset page: /asset/<urn>. Header, curation (classifications,
// description, owners), the kind's own view, then every neighbour with the
// provenance of its edge. Refreshes on change events about the asset or its
// neighbours, and polls live readings (lag, state) while open.
import { useEffect, useMemo, useRef } from 'react'
import { useQuery } from 'urql'
import { Link, useLocation } from 'wouter'
import { AssetQuery, LiveQuery } from '../api/operations'
import { impactPath, lineagePath, urnFromPath } from '../api/urn'
import { useChanges, useReadingHistory } from '../api/live'
import type { AssetQuery as AssetResult } from '../gql/graphql'
import { ErrorMessage, KindIcon, kindLabels, Loading, Section, Time } from '../components/ui'
import { ClassificationEditor } from '../components/Classifications'
import { DescriptionEditor, OwnersEditor } from '../components/Editors'
import { KindView, Neighbours, recordLive } from './assetViews'

export type Asset = AssetResult['asset']
export type Neighbor = Asset['upstream'][number]

const livePollMs = 10_000

export function AssetPage() {
  useLocation() // re-render on navigation; the URN is read from the raw path
  const urn = urnFromPath(window.location.pathname, '/asset/')
  const [{ data, error, fetching, stale }, refetch] = useQuery({ query: AssetQuery, variables: { urn } })
  const [live, refetchLive] = useQuery({ query: LiveQuery, variables: { urn }, requestPolicy: 'network-only', pause: !data || !hasLive(data.asset.kind) })
  const history = useReadingHistory()
  const asset = data?.asset
  const neighbours = useMemo(() => new Set([...(asset?.upstream ?? []), ...(asset?.downstream ?? [])].map((n) => n.asset.urn)), [asset])

  // Record every live reading we see for the session's sparklines.
  useEffect(() => {
    if (asset) recordLive(history, asset)
  }, [asset, history])
  useEffect(() => {
    const a = live.data?.asset
    if (!a) return
    recordLive(history, { urn: a.urn, kind: asset?.kind ?? 'TOPIC', live: a.live, upstream: [], downstream: a.consumers.map((c) => ({ asset: c })) } as never)
  }, [live.data, history, asset?.kind])
  useEffect(() => {
    if (!asset || !hasLive(asset.kind)) return
    const t = setInterval(() => refetchLive({ requestPolicy: 'network-only' }), livePollMs)
    return () => clearInterval(t)
  }, [asset, refetchLive])

  // Re-read on change events concerning this asset, its neighbours or its fields.
  const pending = useRef<ReturnType<typeof setTimeout>>(undefined)
  const fieldPrefix = fieldPrefixOf(urn)
  useChanges(
    (c) => !!c.subject && (c.subject === urn || neighbours.has(c.subject) || (!!fieldPrefix && c.subject.startsWith(fieldPrefix))),
    () => {
      clearTimeout(pending.current)
      pending.current = setTimeout(() => refetch({ requestPolicy: 'network-only' }), 250)
    },
  )
  useEffect(() => () => clearTimeout(pending.current), [])

  useEffect(() => {
    document.title = (asset?.name ?? urn) + ' · Watershed'
  }, [asset?.name, urn])

  if (error && !data) {
    return (
      <div className="page">
        <h1 className="urn-title">{urn}</h1>
        <ErrorMessage error={error} what="Asset" />
      </div>
    )
  }
  if (!asset) return <Loading what="Loading asset" />
  return (
    <div className="page asset-page" data-urn={asset.urn}>
      <header className="asset-head">
        <div className="title-row">
          <KindIcon kind={asset.kind} />
          <h1>{asset.name}</h1>
          <span className="kind-label">{kindLabels[asset.kind]}</span>
          {asset.deleted && (
            <span className="tag danger">
              deleted <Time at={asset.deletedAt} />
            </span>
          )}
          {(fetching || stale) && <span className="muted small" role="status">refreshing…</span>}
          <span className="spacer" />
          {asset.kind === 'SCHEMA_SUBJECT' && (
            <Link href={'/schema-check?subject=' + encodeURIComponent(asset.urn)} className="button">
              Check a new schema
            </Link>
          )}
          <Link href={impactPath(asset.urn)} className="button">
            Impact
          </Link>
          <Link href={lineagePath(asset.urn)} className="button primary">
            Lineage graph
          </Link>
        </div>
        <p className="urn">
          <code>{asset.urn}</code>
          <button type="button" className="link-button" onClick={() => navigator.clipboard?.writeText(asset.urn)} aria-label="Copy URN">
            copy
          </button>
        </p>
        <p className="meta">
          sources: {asset.sources.join(', ') || '—'} · created <Time at={asset.createdAt} /> · updated <Time at={asset.updatedAt} />
        </p>
      </header>
      <ErrorMessage error={error} />
      <div className="asset-grid">
        <div className="asset-main">
          <KindView asset={asset} />
          <Neighbours asset={asset} />
        </div>
        <aside className="asset-side">
          <Section title="Classifications">
            <ClassificationEditor urn={asset.urn} attachments={asset.classifications} />
          </Section>
          <Section title="Description">
            <DescriptionEditor key={asset.description ?? ''} urn={asset.urn} description={asset.description} />
          </Section>
          <Section title="Owners">
            <OwnersEditor urn={asset.urn} owners={asset.owners} />
          </Section>
        </aside>
      </div>
    </div>
  )
}

function hasLive(kind: string) {
  return kind === 'TOPIC' || kind === 'CONSUMER_GROUP' || kind === 'CONNECTOR'
}

function fieldPrefixOf(urn: string): string | undefined {
  const m = /^urn:topic:(.*)$/.exec(urn)
  if (m) return `urn:field:${m[1]}/`
  const t = /^urn:table:(.*)$/.exec(urn)
  if (t) return `urn:column:${t[1]}/`
  return undefined
}
