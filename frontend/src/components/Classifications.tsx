// Attach and detach classifications, with a preview of where an attachment
// would propagate before it is made; explain propagated ones by their path
// and the edges it follows.
import { useState } from 'react'
import { useMutation, useQuery } from 'urql'
import { Link } from 'wouter'
import { ClassificationsQuery, ClassifyMutation, DeclassifyMutation, ExplainClassificationQuery, PreviewClassificationQuery } from '../api/operations'
import { assetPath } from '../api/urn'
import type { AssetQuery, PropagationMode } from '../gql/graphql'
import { AssetLink, ClassificationBadge, ErrorMessage, Loading } from './ui'
import { stepName } from './Paths'

type Attachment = AssetQuery['asset']['classifications'][number]

export function ClassificationEditor({ urn, attachments }: { urn: string; attachments: Attachment[] }) {
  const [defs] = useQuery({ query: ClassificationsQuery })
  const [classifyRes, classify] = useMutation(ClassifyMutation)
  const [declassifyRes, declassify] = useMutation(DeclassifyMutation)
  const [choice, setChoice] = useState('')
  const [propagate, setPropagate] = useState(true)
  const [why, setWhy] = useState<string | null>(null)
  const direct = attachments.filter((a) => a.direct)
  // One badge per propagated name, however many origins it comes from; "why?" lists every origin.
  const propagated = attachments.filter((a, i) => !a.direct && attachments.findIndex((b) => !b.direct && b.name === a.name) === i)
  const taken = new Set(direct.map((a) => a.name))
  const options = (defs.data?.classifications ?? []).filter((d) => !taken.has(d.name))
  const chosen = defs.data?.classifications.find((d) => d.name === choice)
  const willPropagate = propagate && (chosen?.propagates ?? true)
  const error = classifyRes.error ?? declassifyRes.error
  return (
    <div className="classifications">
      <div className="badges" aria-label="Classifications">
        {attachments.length === 0 && <span className="muted">No classifications.</span>}
        {direct.map((a) => (
          <ClassificationBadge
            key={'d' + a.name}
            name={a.name}
            source={a.source}
            onRemove={a.source === 'MANUAL' ? () => declassify({ urn, classification: a.name }) : undefined}
          />
        ))}
        {propagated.map((a) => (
          <button
            type="button"
            key={'p' + a.name}
            className="badge-button"
            aria-expanded={why === a.name}
            onClick={() => setWhy(why === a.name ? null : a.name)}
          >
            <ClassificationBadge name={a.name} direct={false} origin={a.origin} />
            <span className="why">why?</span>
          </button>
        ))}
      </div>
      {propagated
        .filter((a) => why === a.name)
        .map((a) => (
          <Why key={'why' + a.name} urn={urn} attachment={a} />
        ))}
      {direct.some((a) => a.source !== 'MANUAL') && (
        <p className="hint">Classifications from schema tags, rules or crawlers follow their source; change them there.</p>
      )}
      <form
        className="row classify-form"
        onSubmit={(e) => {
          e.preventDefault()
          if (choice) classify({ urn, classification: choice, propagate }).then((r) => !r.error && setChoice(''))
        }}
      >
        <label>
          <span className="sr-only">Classification to attach</span>
          <select value={choice} onChange={(e) => setChoice(e.target.value)} aria-label="Classification to attach">
            <option value="">Add classification…</option>
            {options.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name}
                {d.description ? ` — ${d.description}` : ''}
              </option>
            ))}
          </select>
        </label>
        <label className="check" title={chosen && !chosen.propagates ? `${chosen.name} never propagates` : 'Flow downstream along lineage'}>
          <input type="checkbox" checked={propagate && (chosen?.propagates ?? true)} disabled={chosen ? !chosen.propagates : false} onChange={(e) => setPropagate(e.target.checked)} />
          propagate downstream
        </label>
        <button type="submit" className="primary" disabled={!choice || classifyRes.fetching}>
          Classify
        </button>
      </form>
      {choice && <Preview urn={urn} classification={choice} propagate={willPropagate} />}
      <ErrorMessage error={error} what="Classification" />
    </div>
  )
}

const modeLabels: Record<PropagationMode, string> = {
  FIELD: 'field lineage',
  ROLLUP: 'contains it',
  READER: 'reads it',
  COARSE: 'fed without field mapping',
  DATASET: 'downstream dataset',
}

/** Preview shows, before classify, what the attachment would reach (nothing is written). */
export function Preview({ urn, classification, propagate }: { urn: string; classification: string; propagate: boolean }) {
  const [{ data, error, fetching }] = useQuery({ query: PreviewClassificationQuery, variables: { urn, classification, first: 200 }, pause: !propagate, requestPolicy: 'network-only' })
  const [all, setAll] = useState(false)
  if (!propagate) return <p className="hint" role="status">{classification} stays on this asset: it will not propagate.</p>
  if (error) return <ErrorMessage error={error} what="Preview" />
  if (!data || fetching) return <Loading what="Previewing propagation" />
  const p = data.previewClassification
  const reached = [...p.reached].sort((x, y) => x.path.length - y.path.length)
  const shown = all ? reached : reached.slice(0, 8)
  const byMode = new Map<PropagationMode, number>()
  p.reached.forEach((r) => byMode.set(r.mode, (byMode.get(r.mode) ?? 0) + 1))
  return (
    <div className="preview why-panel" role="region" aria-label={`Where ${classification} will propagate`}>
      {p.totalCount === 0 ? (
        <span>Nothing downstream would carry {classification}; it stays on this asset.</span>
      ) : (
        <>
          <strong>
            Classifying propagates {classification} to {p.totalCount} asset{p.totalCount === 1 ? '' : 's'}:
          </strong>
          <div className="small muted">{[...byMode].map(([m, n]) => `${n} ${modeLabels[m]}`).join(' · ')}</div>
          <ul className="plain reach">
            {shown.map((r) => (
              <li key={r.asset.urn}>
                <AssetLink asset={r.asset} /> <span className="small muted">{modeLabels[r.mode]}, {r.path.length - 1} hop{r.path.length === 2 ? '' : 's'}</span>
              </li>
            ))}
          </ul>
          {p.reached.length > shown.length && (
            <button type="button" className="link-button" onClick={() => setAll(true)}>
              show all {p.reached.length}
            </button>
          )}
          {p.totalCount > p.reached.length && all && <p className="hint">…and {p.totalCount - p.reached.length} more.</p>}
        </>
      )}
    </div>
  )
}

/** Why explains a propagated classification: per origin, the path and the edges it follows. */
function Why({ urn, attachment: a }: { urn: string; attachment: Attachment }) {
  const [{ data, error }] = useQuery({ query: ExplainClassificationQuery, variables: { urn, classification: a.name }, requestPolicy: 'network-only' })
  // Explain answers for the name and the names below it; keep the exact name when the asset carries it.
  const all = data?.explainClassification.filter((x) => !x.direct)
  const exact = all?.filter((x) => x.classification === a.name)
  const explained = exact?.length ? exact : all
  return (
    <div className="why-panel" role="region" aria-label={`Why ${a.name}`}>
      <ErrorMessage error={error} what="Explain" />
      {explained && explained.length > 0 ? (
        explained.map((x, i) => (
          <div key={i} className="explanation">
            <strong>{x.classification}</strong> {x.mode ? modeLabels[x.mode] : 'propagated'} from{' '}
            {x.origin ? <AssetLink asset={x.origin} /> : 'upstream'}
            <ol className="hops" aria-label={`Path from ${x.origin ? stepName(x.origin.urn) : 'origin'}`}>
              {x.hops.map((h, j) => (
                <li key={j}>
                  <Link href={assetPath(h.to)} title={h.to}>
                    {stepName(h.to)}
                  </Link>{' '}
                  <span className="small muted">
                    {h.containment
                      ? 'contains it'
                      : h.edge
                        ? [h.edge.kind.toLowerCase(), ...h.edge.claims.map((c) => c.transform ?? c.origin ?? c.source)].filter(Boolean).join(' · ')
                        : ''}
                  </span>
                  {h.edge?.masking && <span className="tag mask">masked</span>}
                </li>
              ))}
            </ol>
          </div>
        ))
      ) : (
        <>
          <strong>{a.name}</strong> propagated from {a.origin ? <Link href={assetPath(a.origin)}>{a.origin}</Link> : 'upstream'}
          {a.path.length > 0 && (
            <ol className="path">
              {a.path.map((p) => (
                <li key={p}>
                  <Link href={assetPath(p)}>{p}</Link>
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </div>
  )
}
