// Live updates: one subscription to the change log for the whole app, fanned
// out to the pages that listen, plus the connection state for the header and
// the session's history of live readings (lag) for sparklines.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import type { Api, ConnectionState } from './client'
import { ChangesSubscription } from './operations'
import type { ChangeFieldsFragment } from '../gql/graphql'

export type Change = ChangeFieldsFragment

/** ReadingHistory keeps the live readings observed during this session, per asset. */
export class ReadingHistory {
  private series = new Map<string, { t: number; v: number }[]>()
  private listeners = new Set<() => void>()
  constructor(private readonly cap = 240) {}

  /** record adds a reading; a reading equal in time to the last one replaces it. */
  record(key: string, value: number, t = Date.now()): void {
    if (!Number.isFinite(value)) return
    const s = this.series.get(key) ?? []
    const last = s[s.length - 1]
    if (last && t - last.t < 1000) {
      if (last.v === value) return
      last.v = value
    } else {
      s.push({ t, v: value })
      if (s.length > this.cap) s.splice(0, s.length - this.cap)
    }
    this.series.set(key, s)
    this.listeners.forEach((l) => l())
  }

  /** get returns the readings of key, oldest first. */
  get(key: string): readonly { t: number; v: number }[] {
    return this.series.get(key) ?? []
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }
}

type Listener = (c: Change) => void

interface LiveValue {
  api: Api
  state: ConnectionState
  recent: Change[]
  history: ReadingHistory
  listen(fn: Listener): () => void
}

type Stable = Pick<LiveValue, 'api' | 'history' | 'listen'>
// Three contexts so that a page listening for changes does not re-render on
// every change or state flip, only the components that show them.
const StableContext = createContext<Stable | null>(null)
const StateContext = createContext<ConnectionState>('connecting')
const RecentContext = createContext<Change[]>([])

export function LiveProvider({ api, children }: { api: Api; children: ReactNode }) {
  const [state, setState] = useState<ConnectionState>('connecting')
  const [recent, setRecent] = useState<Change[]>([])
  const listeners = useRef(new Set<Listener>())
  const history = useRef(new ReadingHistory())
  useEffect(() => api.onState(setState), [api])
  useEffect(() => {
    const sub = api.client.subscription(ChangesSubscription, {}).subscribe((res) => {
      const c = res.data?.changes
      if (!c) return
      setRecent((r) => [c, ...r].slice(0, 200))
      listeners.current.forEach((l) => l(c))
    })
    return () => sub.unsubscribe()
  }, [api])
  const listen = useCallback((fn: Listener) => {
    listeners.current.add(fn)
    return () => {
      listeners.current.delete(fn)
    }
  }, [])
  const stable = useMemo<Stable>(() => ({ api, history: history.current, listen }), [api, listen])
  return (
    <StableContext.Provider value={stable}>
      <StateContext.Provider value={state}>
        <RecentContext.Provider value={recent}>{children}</RecentContext.Provider>
      </StateContext.Provider>
    </StableContext.Provider>
  )
}

function useStable(): Stable {
  const v = useContext(StableContext)
  if (!v) throw new Error('live hooks outside LiveProvider')
  return v
}

/** useLive returns everything live, re-rendering on every change and connection state flip. */
export function useLive(): LiveValue {
  return { ...useStable(), state: useContext(StateContext), recent: useContext(RecentContext) }
}

/** useConnectionState re-renders only when the connection state changes. */
export function useConnectionState(): ConnectionState {
  return useContext(StateContext)
}

/** useRecentChanges returns the changes received in this session, newest first. */
export function useRecentChanges(): Change[] {
  return useContext(RecentContext)
}

/** useReadingHistory returns the session's reading history without subscribing to changes. */
export function useReadingHistory(): ReadingHistory {
  return useStable().history
}

/**
 * useChanges calls onChange for every change whose subject matches; match
 * receives the change and decides. The callback may change between renders.
 */
export function useChanges(match: (c: Change) => boolean, onChange: (c: Change) => void): void {
  const { listen } = useStable()
  const ref = useRef({ match, onChange })
  ref.current = { match, onChange }
  useEffect(
    () =>
      listen((c) => {
        if (ref.current.match(c)) ref.current.onChange(c)
      }),
    [listen],
  )
}

/** useHistory re-renders when history changes and returns the readings of key. */
export function useHistory(key: string) {
  const { history } = useStable()
  const [, tick] = useState(0)
  useEffect(() => history.subscribe(() => tick((n) => n + 1)), [history])
  return history.get(key)
}
