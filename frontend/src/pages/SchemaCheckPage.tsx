// Proposed-schema check: /schema-check?subject=<name or URN>. Paste a
// candidate schema for a subject and see what registering it would do: the
// registry's verdict under the subject's compatibility level, the field diff
// and, per downstream consumer, BREAKING / UNKNOWN / SAFE with the fields
// involved. Nothing is registered. A schema that does not parse is shown as
// the server's message.
import { useEffect, useMemo, useRef, useState } from 'react'
import { useClient, useQuery } from 'urql'
import { Link, useLocation, useSearch } from 'wouter'
import { SchemaChangeImpactQuery, SubjectSchemaQuery, SubjectsQuery } from '../api/operations'
import { assetPath } from '../api/urn'
import type { SchemaChangeImpactQuery as Result, SchemaType } from '../gql/graphql'
import type { CombinedError } from '@urql/core'
import { AssetLink, ErrorMessage, Loading, Section } from '../components/ui'
import { PathSteps } from '../components/Paths'

type Impact = Result['schemaChangeImpact']

export function SchemaCheckPage() {
  const search = useSearch()
  const [, navigate] = useLocation()
  const params = new URLSearchParams(search)
  const subject = params.get('subject') ?? ''
  const [subjects] = useQuery({ query: SubjectsQuery, variables: {} })
  const options = useMemo(() => (subjects.data?.search.edges ?? []).map((e) => e.node).sort((a, b) => a.name.localeCompare(b.name)), [subjects.data])
  const chosen = options.find((o) => o.urn === subject || o.name === subject)
  const subjectURN = chosen?.urn ?? (subject.startsWith('urn:subject:') ? subject : '')
  const [latest] = useQuery({ query: SubjectSchemaQuery, variables: { urn: subjectURN }, pause: !subjectURN })
  const latestVersion = useMemo(() => {
    const vs = (latest.data?.asset.versions ?? []).filter((v) => v.asset.kind === 'SCHEMA_VERSION').map((v) => (v.asset.properties ?? {}) as Record<string, unknown>)
    vs.sort((a, b) => Number(b.version ?? 0) - Number(a.version ?? 0))
    return vs[0]
  }, [latest.data])
  const subjectProps = (chosen?.properties ?? latest.data?.asset.properties ?? {}) as Record<string, unknown>
  const client = useClient()
  const [schema, setSchema] = useState('')
  const [schemaType, setSchemaType] = useState<SchemaType | ''>('')
  const [result, setResult] = useState<{ data?: Impact; error?: CombinedError; fetching: boolean }>({ fetching: false })
  // A new subject starts from its latest schema, so a steward edits rather than retypes.
  const loadedFor = useRef('')
  useEffect(() => {
    if (loadedFor.current === subjectURN || latestVersion?.schema == null) return
    loadedFor.current = subjectURN
    setResult({ fetching: false })
    setSchema(String(latestVersion.schema))
  }, [subjectURN, latestVersion])
  useEffect(() => {
    document.title = 'Schema check · Watershed'
  }, [])

  const check = async (e: React.FormEvent) => {
    e.preventDefault()
    setResult({ fetching: true })
    const r = await client
      .query(SchemaChangeImpactQuery, { subject: subjectURN || subject, schema, schemaType: schemaType || null }, { requestPolicy: 'network-only' })
      .toPromise()
    setResult({ data: r.data?.schemaChangeImpact, error: r.error, fetching: false })
  }

  return (
    <div className="page schema-check">
      <h1>Proposed-schema check</h1>
      <p className="lead">Paste a candidate schema: see whether the registry would accept it and which consumers it breaks. Nothing is registered.</p>
      <form className="section" onSubmit={check} aria-label="Schema check">
        <div className="form-grid">
          <label>
            Subject
            <select value={chosen?.urn ?? subject} onChange={(e) => navigate('/schema-check?subject=' + encodeURIComponent(e.target.value), { replace: true })}>
              <option value="">Choose a subject…</option>
              {options.map((o) => (
                <option key={o.urn} value={o.urn}>
                  {o.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Schema type
            <select value={schemaType} onChange={(e) => setSchemaType(e.target.value as SchemaType | '')}>
              <option value="">the subject's ({String(subjectProps.schemaType ?? '—')})</option>
              <option value="AVRO">Avro</option>
              <option value="PROTOBUF">Protobuf</option>
              <option value="JSON">JSON Schema</option>
            </select>
          </label>
        </div>
        <ErrorMessage error={subjects.error} what="Subjects" />
        {chosen && (
          <p className="hint">
            <AssetLink asset={{ urn: chosen.urn, kind: 'SCHEMA_SUBJECT', name: chosen.name, deleted: false }} /> · latest version {String(subjectProps.latestVersion ?? '—')} · compatibility{' '}
            <code>{String(subjectProps.compatibility ?? 'BACKWARD')}</code> ({String(subjectProps.compatibilitySource ?? 'default')})
            {latest.data?.asset.topics.map((t) => (
              <span key={t.asset.urn}>
                {' '}
                · topic <AssetLink asset={t.asset} />
              </span>
            ))}
          </p>
        )}
        <label className="block">
          Candidate schema
          <textarea className="schema-input" value={schema} onChange={(e) => setSchema(e.target.value)} rows={16} spellCheck={false} placeholder='{"type": "record", "name": "…", "fields": […]}' />
        </label>
        <div className="row">
          <button type="submit" className="primary" disabled={!subject || !schema.trim() || result.fetching}>
            Check schema
          </button>
          {latestVersion?.schema != null && schema !== String(latestVersion.schema) && (
            <button type="button" onClick={() => setSchema(String(latestVersion.schema))}>
              Reset to latest
            </button>
          )}
          {result.fetching && <Loading what="Checking" />}
        </div>
      </form>
      <ErrorMessage error={result.error} what="Schema check" />
      {result.data && <Verdicts impact={result.data} />}
    </div>
  )
}

const verdictClass = { BREAKING: 'danger', UNKNOWN: 'warn', SAFE: 'ok' } as const

/** Verdicts shows a schemaChangeImpact answer: registry verdict, field diff, consumers. */
export function Verdicts({ impact }: { impact: Impact }) {
  const c = impact.compatibility
  const counts = { BREAKING: 0, UNKNOWN: 0, SAFE: 0 }
  impact.consumers.forEach((x) => counts[x.verdict]++)
  return (
    <div className="verdicts" aria-live="polite">
      <div className={'verdict-banner ' + (impact.breaking || !c.compatible ? 'bad' : 'good')} role="status">
        <strong>{impact.breaking ? 'Breaking for consumers' : c.compatible ? 'Safe to register' : 'The registry would refuse it'}</strong>
        <span>
          {' '}
          · registry ({c.level}, {c.levelSource}): {c.compatible ? 'compatible' : 'incompatible'} with version{c.checked.length === 1 ? '' : 's'} {c.checked.join(', ')} · {counts.BREAKING} breaking, {counts.UNKNOWN} unknown, {counts.SAFE} safe
        </span>
      </div>
      {c.messages.length > 0 && (
        <ul className="errors" aria-label="Registry messages">
          {c.messages.map((m) => (
            <li key={m}>{m}</li>
          ))}
        </ul>
      )}
      {!c.readersCompatible && (
        <div className="hint">
          Readers on the latest schema cannot read data written with the candidate:
          <ul className="errors" aria-label="Reader messages">
            {c.readerMessages.map((m) => (
              <li key={m}>{m}</li>
            ))}
          </ul>
        </div>
      )}
      <Section title={`Consumers (${impact.consumers.length})`}>
        {impact.consumers.length === 0 ? (
          <p className="muted">No consumer group, connector, job or sink reads this subject's topic.</p>
        ) : (
          <table className="grid" aria-label="Consumer verdicts">
            <thead>
              <tr>
                <th scope="col">Verdict</th>
                <th scope="col">Consumer</th>
                <th scope="col">Fields involved</th>
                <th scope="col">Why</th>
                <th scope="col">Owners</th>
              </tr>
            </thead>
            <tbody>
              {impact.consumers.map((x) => (
                <tr key={x.asset.urn} data-verdict={x.verdict}>
                  <td>
                    <span className={'tag ' + verdictClass[x.verdict]}>{x.verdict}</span>
                  </td>
                  <td>
                    <AssetLink asset={x.asset} />
                    <div className="small muted">
                      {x.hops} hop{x.hops === 1 ? '' : 's'} · {x.fieldLineage ? 'field lineage' : 'no field lineage'}
                    </div>
                  </td>
                  <td>{x.fields.length ? x.fields.map((f) => <code key={f} className="field-chip">{f}</code>) : <span className="muted">—</span>}</td>
                  <td className="small">
                    {x.reason}
                    <details>
                      <summary>path</summary>
                      <PathSteps path={x.path} />
                    </details>
                  </td>
                  <td className="small">{x.asset.owners.join(', ') || <span className="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title={`Field changes (${impact.changes.length})`}>
        {impact.changes.length === 0 ? (
          <p className="muted">No field changes from version {impact.latestVersion}.</p>
        ) : (
          <table className="grid" aria-label="Field changes">
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Change</th>
                <th scope="col">Before</th>
                <th scope="col">After</th>
                <th scope="col">Breaks readers</th>
              </tr>
            </thead>
            <tbody>
              {impact.changes.map((ch) => (
                <tr key={ch.path + ch.kind} className={ch.breaking ? 'warn' : ''}>
                  <td>
                    {ch.field ? (
                      <Link href={assetPath(ch.field)}>
                        <code>{ch.path}</code>
                      </Link>
                    ) : (
                      <code>{ch.path}</code>
                    )}
                    {ch.previousPath && <span className="small muted"> (was {ch.previousPath})</span>}
                  </td>
                  <td>{ch.kind.toLowerCase().replace('_', ' ')}</td>
                  <td className="small">{fieldDesc(ch.before)}</td>
                  <td className="small">{fieldDesc(ch.after)}</td>
                  <td>{ch.breaking ? <span className="tag danger">yes</span> : <span className="tag ok">no</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  )
}

function fieldDesc(f: Impact['changes'][number]['before']): string {
  if (!f) return '—'
  return f.type + (f.nullable ? ', nullable' : '') + (f.hasDefault ? ', default ' + JSON.stringify(f.default) : '')
}

export default SchemaCheckPage
