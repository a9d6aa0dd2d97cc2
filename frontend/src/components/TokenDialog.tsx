import { useEffect, useRef, useState } from 'react'
import type { TokenStore } from '../api/client'

/**
 * TokenDialog sets the bearer token sent with every request. Servers that let
 * anonymous callers in need none; with auth.tokens configured, reads and
 * writes need one. The token stays in this browser's local storage.
 */
export function TokenDialog({ tokens, onClose }: { tokens: TokenStore; onClose: () => void }) {
  const [value, setValue] = useState(tokens.get())
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const d = ref.current
    if (d && !d.open) d.showModal?.()
  }, [])
  const save = () => {
    tokens.set(value.trim())
    onClose()
    window.location.reload() // reconnect the subscription with the new token
  }
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="token-title" onClose={onClose} onCancel={onClose}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault()
          save()
        }}
      >
        <h2 id="token-title">API token</h2>
        <p>Needed when the server requires a bearer token (auth.tokens). Leave empty for anonymous access.</p>
        <label>
          Bearer token
          <input type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
        </label>
        <div className="row">
          <button type="submit" className="primary">
            Save
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  )
}
