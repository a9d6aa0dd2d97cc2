import { useConnectionState } from '../api/live'

const labels = {
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
} as const

/** ConnectionIndicator shows whether live updates are flowing. */
export function ConnectionIndicator() {
  const state = useConnectionState()
  return (
    <span className={'conn conn-' + state} role="status" aria-live="polite" data-state={state} title="Live updates over the changes subscription">
      <span className="dot" aria-hidden="true" />
      {labels[state]}
    </span>
  )
}
