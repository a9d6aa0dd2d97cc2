// Attach and detach classifications; explain propagated ones by their path.
import { useState } from 'react'
import { useMutation, useQuery } from 'urql'
import { Link } from 'wouter'
import { ClassificationsQuery, ClassifyMutation, DeclassifyMutation } from '../api/operations'
import { assetPath } from '../api/urn'
import type { AssetQuery } from '../gql/graphql'
import { ClassificationBadge, ErrorMessage } from './ui'

type Attachment = AssetQuery['asset']['classifications'][number]

export function ClassificationEditor({ urn, attachments }: { urn: string; attachments: Attachment[] }) {
  const [defs] = useQuery({ query: ClassificationsQuery })
  const [classifyRes, classify] = useMutation(ClassifyMutation)
  const [declassifyRes, declassify] = useMutation(DeclassifyMutation)
  const [choice, setChoice] = useState('')
  const [propagate, setPropagate] = useState(true)
  const [why, setWhy] = useState<string | null>(null)
  const direct = attachments.filter((a) => a.direct)
  const propagated = attachments.filter((a) => !a.direct)
  const taken = new Set(direct.map((a) => a.name))
  const options = (defs.data?.classifications ?? []).filter((d) => !taken.has(d.name))
  const chosen = defs.data?.classifications.find((d) => d.name === choice)
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
            key={'p' + a.name + a.origin}
            className="badge-button"
            aria-expanded={why === a.name + a.origin}
            onClick={() => setWhy(why === a.name + a.origin ? null : a.name + a.origin)}
          >
            <ClassificationBadge name={a.name} direct={false} origin={a.origin} />
            <span className="why">why?</span>
          </button>
        ))}
      </div>
      {propagated
        .filter((a) => why === a.name + a.origin)
        .map((a) => (
          <div key={'why' + a.name} className="why-panel" role="region" aria-label={`Why ${a.name}`}>
            <strong>{a.name}</strong> propagated from{' '}
            {a.origin ? <Link href={assetPath(a.origin)}>{a.origin}</Link> : 'upstream'}
            {a.path.length > 0 && (
              <ol className="path">
                {a.path.map((p) => (
                  <li key={p}>
                    <Link href={assetPath(p)}>{p}</Link>
                  </li>
                ))}
              </ol>
            )}
          </div>
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
      <ErrorMessage error={error} what="Classification" />
    </div>
  )
}
