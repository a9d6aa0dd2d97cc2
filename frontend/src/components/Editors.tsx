// Curated description and owners (setDescription, setOwners).
import { useState } from 'react'
import { useMutation } from 'urql'
import { SetDescriptionMutation, SetOwnersMutation } from '../api/operations'
import { ErrorMessage } from './ui'

export function DescriptionEditor({ urn, description }: { urn: string; description?: string | null }) {
  const [editing, setEditing] = useState(false)
  const [text, setText] = useState(description ?? '')
  const [res, save] = useMutation(SetDescriptionMutation)
  if (!editing) {
    return (
      <div className="description">
        {description ? <p>{description}</p> : <p className="muted">No description.</p>}
        <button
          type="button"
          className="link-button"
          onClick={() => {
            setText(description ?? '')
            setEditing(true)
          }}
        >
          Edit description
        </button>
        <ErrorMessage error={res.error} what="Save description" />
      </div>
    )
  }
  return (
    <form
      className="description"
      onSubmit={(e) => {
        e.preventDefault()
        save({ urn, description: text.trim() }).then((r) => !r.error && setEditing(false))
      }}
    >
      <label>
        <span className="sr-only">Description</span>
        <textarea value={text} rows={3} onChange={(e) => setText(e.target.value)} autoFocus aria-label="Description" />
      </label>
      <p className="hint">Empty shows the sources' description again.</p>
      <div className="row">
        <button type="submit" className="primary" disabled={res.fetching}>
          Save
        </button>
        <button type="button" onClick={() => setEditing(false)}>
          Cancel
        </button>
      </div>
      <ErrorMessage error={res.error} what="Save description" />
    </form>
  )
}

export function OwnersEditor({ urn, owners }: { urn: string; owners: string[] }) {
  const [text, setText] = useState('')
  const [res, save] = useMutation(SetOwnersMutation)
  const set = (next: string[]) => save({ urn, owners: next })
  return (
    <div className="owners">
      <ul className="chips" aria-label="Owners">
        {owners.length === 0 && <li className="muted">No owners.</li>}
        {owners.map((o) => (
          <li key={o} className="chip">
            {o}
            <button type="button" className="badge-x" aria-label={`Remove owner ${o}`} onClick={() => set(owners.filter((x) => x !== o))}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault()
          const add = text.split(',').map((s) => s.trim()).filter((s) => s && !owners.includes(s))
          if (add.length) set([...owners, ...add]).then((r) => !r.error && setText(''))
        }}
      >
        <label>
          <span className="sr-only">Add owner</span>
          <input type="text" placeholder="team-payments, alice@acme.com" value={text} onChange={(e) => setText(e.target.value)} aria-label="Add owner" />
        </label>
        <button type="submit" disabled={!text.trim() || res.fetching}>
          Add owner
        </button>
      </form>
      <ErrorMessage error={res.error} what="Save owners" />
    </div>
  )
}
