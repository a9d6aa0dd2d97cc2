// Full search: the query and facets live in the URL (?q=…&kind=TOPIC&cls=PII),
// results update as you type, facet counts come from the server.
import { useEffect, useMemo, useRef, useState } from 'react'
import { useQuery } from 'urql'
import { useLocation, useSearch } from 'wouter'
import { ClassificationsQuery, KindFacetsQuery, SearchQuery } from '../api/operations'
import { assetPath } from '../api/urn'
import type { AssetKind } from '../gql/graphql'
import { Badges, ErrorMessage, KindIcon, kindLabels, Time } from '../components/ui'
import { useDebounced } from '../components/useDebounced'

const facetKinds: AssetKind[] = [
  'TOPIC', 'FIELD', 'CONSUMER_GROUP', 'CONNECTOR', 'TABLE', 'COLUMN', 'DATASET', 'JOB', 'PRINCIPAL',
  'SCHEMA_SUBJECT', 'SCHEMA_VERSION', 'DATABASE', 'KAFKA_CLUSTER', 'BROKER', 'SCHEMA_REGISTRY', 'CONNECT_CLUSTER',
]

const pageSize = 50

export function SearchPage() {
  const search = useSearch()
  const [, navigate] = useLocation()
  const params = useMemo(() => new URLSearchParams(search), [search])
  const [text, setText] = useState(params.get('q') ?? '')
  const kinds = params.getAll('kind') as AssetKind[]
  const cls = params.getAll('cls')
  const includeDeleted = params.get('deleted') === '1'
  const q = useDebounced(text.trim(), 150)
  const [pages, setPages] = useState<(string | null)[]>([null])
  const resultsRef = useRef<HTMLOListElement>(null)

  const setParams = (edit: (p: URLSearchParams) => void) => {
    const p = new URLSearchParams(search)
    edit(p)
    navigate('/search?' + p.toString(), { replace: true })
  }
  useEffect(() => {
    if ((params.get('q') ?? '') !== q) setParams((p) => (q ? p.set('q', q) : p.delete('q')))
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q])
  useEffect(() => setPages([null]), [q, search])

  const vars = { query: q || null, kinds: kinds.length ? kinds : null, classifications: cls.length ? cls : null, includeDeleted }
  const [facets] = useQuery({ query: KindFacetsQuery, variables: { query: vars.query, classifications: vars.classifications, includeDeleted } })
  const [defs] = useQuery({ query: ClassificationsQuery })
  const toggle = (key: string, value: string) =>
    setParams((p) => {
      const vs = p.getAll(key)
      p.delete(key)
      for (const v of vs.includes(value) ? vs.filter((x) => x !== value) : [...vs, value]) p.append(key, v)
    })
  const counts = facets.data as unknown as Record<string, { totalCount: number }> | undefined

  return (
    <div className="page search-page">
      <h1 className="sr-only">Search</h1>
      <div className="search-bar">
        <label htmlFor="search-input" className="sr-only">
          Search names, URNs, fields
        </label>
        <input
          id="search-input"
          type="search"
          autoFocus
          value={text}
          placeholder="Search names, URNs, fields…"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'ArrowDown') {
              e.preventDefault()
              resultsRef.current?.querySelector<HTMLAnchorElement>('a')?.focus()
            }
          }}
        />
        <label className="check">
          <input type="checkbox" checked={includeDeleted} onChange={() => setParams((p) => (includeDeleted ? p.delete('deleted') : p.set('deleted', '1')))} />
          include deleted
        </label>
      </div>
      <div className="search-layout">
        <aside className="facets" aria-label="Filters">
          <fieldset>
            <legend>Kind</legend>
            {facetKinds.map((k) => {
              const n = counts?.[k]?.totalCount
              if (n === 0 && !kinds.includes(k)) return null
              return (
                <label key={k} className="facet">
                  <input type="checkbox" checked={kinds.includes(k)} onChange={() => toggle('kind', k)} />
                  <KindIcon kind={k} decorative /> {kindLabels[k]}
                  <span className="count">{n ?? ''}</span>
                </label>
              )
            })}
          </fieldset>
          <fieldset>
            <legend>Classification</legend>
            {defs.data?.classifications.map((d) => (
              <label key={d.name} className={'facet' + (d.parent ? ' child' : '')} title={d.description ?? undefined}>
                <input type="checkbox" checked={cls.includes(d.name)} onChange={() => toggle('cls', d.name)} />
                {d.name}
              </label>
            ))}
          </fieldset>
        </aside>
        <div className="results">
          {pages.map((after, i) => (
            <ResultPage
              key={(after ?? '') + i}
              vars={{ ...vars, first: pageSize, after }}
              first={i === 0}
              listRef={i === 0 ? resultsRef : undefined}
              onMore={i === pages.length - 1 ? (c) => setPages((p) => [...p, c]) : undefined}
            />
          ))}
        </div>
      </div>
    </div>
  )
}

function ResultPage({
  vars,
  first,
  onMore,
  listRef,
}: {
  vars: { query: string | null; kinds: AssetKind[] | null; classifications: string[] | null; includeDeleted: boolean; first: number; after: string | null }
  first: boolean
  onMore?: (cursor: string) => void
  listRef?: React.Ref<HTMLOListElement>
}) {
  const [{ data, error, fetching }] = useQuery({ query: SearchQuery, variables: vars })
  const [, navigate] = useLocation()
  if (error) return <ErrorMessage error={error} what="Search" />
  const res = data?.search
  const onKeyDown = (e: React.KeyboardEvent<HTMLOListElement>) => {
    const links = Array.from(e.currentTarget.closest('.results')!.querySelectorAll<HTMLAnchorElement>('a.result-link'))
    const i = links.indexOf(document.activeElement as HTMLAnchorElement)
    if (e.key === 'ArrowDown' && i < links.length - 1) {
      e.preventDefault()
      links[i + 1].focus()
    } else if (e.key === 'ArrowUp') {
      e.preventDefault()
      if (i > 0) links[i - 1].focus()
      else document.getElementById('search-input')?.focus()
    }
  }
  return (
    <>
      {first && (
        <p className="result-count" aria-live="polite">
          {res ? `${res.totalCount} result${res.totalCount === 1 ? '' : 's'}` : fetching ? 'Searching…' : ''}
        </p>
      )}
      <ol className="result-list" ref={listRef} onKeyDown={onKeyDown}>
        {res?.edges.map(({ node: a }) => (
          <li key={a.urn} className={a.deleted ? 'deleted' : ''}>
            <a
              className="result-link"
              href={assetPath(a.urn)}
              onClick={(e) => {
                if (e.metaKey || e.ctrlKey || e.shiftKey) return
                e.preventDefault()
                navigate(assetPath(a.urn))
              }}
            >
              <KindIcon kind={a.kind} decorative />
              <span className="r-name">{a.name}</span>
              <span className="r-kind">{kindLabels[a.kind]}</span>
              {a.deleted && <span className="tag">deleted</span>}
            </a>
            <Badges asset={a} />
            <div className="r-urn">{a.urn}</div>
            {a.description && <div className="r-desc">{a.description}</div>}
            <div className="r-meta">
              {a.sources.join(', ')} · updated <Time at={a.updatedAt} />
            </div>
          </li>
        ))}
      </ol>
      {onMore && res?.pageInfo.hasNextPage && res.pageInfo.endCursor && (
        <button type="button" className="more-button" onClick={() => onMore(res.pageInfo.endCursor!)}>
          More results
        </button>
      )}
    </>
  )
}
