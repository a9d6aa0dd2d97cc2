// The GraphQL client: urql over fetch for queries and mutations, graphql-ws
// (the graphql-transport-ws protocol) for subscriptions, both on /graphql of
// the serving origin. A bearer token, when the steward set one, goes in the
// Authorization header and in the websocket's connection_init payload
// (browsers cannot set headers on a websocket).
import { Client, cacheExchange, fetchExchange, subscriptionExchange, CombinedError } from '@urql/core'
import { createClient as createWSClient, type Client as WSClient } from 'graphql-ws'

/** ConnectionState is what the live indicator shows. */
export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed'

/** TokenStore keeps the steward's bearer token in this browser. */
export interface TokenStore {
  get(): string
  set(token: string): void
}

export const localTokenStore: TokenStore = {
  get: () => {
    try {
      return localStorage.getItem('watershed.token') ?? ''
    } catch {
      return ''
    }
  },
  set: (t) => {
    try {
      if (t) localStorage.setItem('watershed.token', t)
      else localStorage.removeItem('watershed.token')
    } catch {
      /* storage disabled: the token lasts for this page only */
    }
  },
}

export interface Api {
  client: Client
  ws: WSClient
  /** onState calls fn with every connection state change; returns an unsubscribe. */
  onState(fn: (s: ConnectionState) => void): () => void
}

/** createApi builds the clients for a server at origin (default: this page's). */
export function createApi(tokens: TokenStore, origin = window.location.origin): Api {
  const httpURL = origin + '/graphql'
  const wsURL = httpURL.replace(/^http/, 'ws')
  const listeners = new Set<(s: ConnectionState) => void>()
  let connectedOnce = false
  const emit = (s: ConnectionState) => listeners.forEach((l) => l(s))
  const ws = createWSClient({
    url: wsURL,
    lazy: false,
    keepAlive: 20_000,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: async (retries) => {
      // 0.5 s, 1 s, 2 s … capped at 15 s, with jitter.
      const ms = Math.min(15_000, 500 * 2 ** retries) * (0.75 + Math.random() / 2)
      await new Promise((r) => setTimeout(r, ms))
    },
    connectionParams: () => {
      const t = tokens.get()
      return t ? { Authorization: 'Bearer ' + t } : {}
    },
    on: {
      connecting: () => emit(connectedOnce ? 'reconnecting' : 'connecting'),
      connected: () => {
        connectedOnce = true
        emit('connected')
      },
      closed: () => emit(connectedOnce ? 'reconnecting' : 'closed'),
    },
  })
  const client = new Client({
    url: httpURL,
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' }
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink)
              return { unsubscribe }
            },
          }
        },
      }),
    ],
    fetchOptions: () => {
      const t = tokens.get()
      const headers: Record<string, string> = t ? { Authorization: 'Bearer ' + t } : {}
      return { headers }
    },
    requestPolicy: 'cache-and-network',
  })
  return {
    client,
    ws,
    onState(fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
  }
}

/** errorMessage turns a CombinedError into one sentence for a steward, naming the API's error code. */
export function errorMessage(err: CombinedError | Error | undefined | null): string {
  if (!err) return ''
  if (err instanceof CombinedError) {
    if (err.graphQLErrors.length > 0) {
      return err.graphQLErrors
        .map((e) => {
          const code = (e.extensions?.code as string | undefined) ?? ''
          const hint =
            code === 'UNAUTHENTICATED'
              ? ' — set a bearer token with write access (the key button in the header)'
              : code === 'PERMISSION_DENIED'
                ? ' — this token may only read'
                : ''
          return (code ? code + ': ' : '') + e.message + hint
        })
        .join('; ')
    }
    if (err.networkError) return 'The server could not be reached: ' + err.networkError.message
  }
  return err.message
}

/** errorCode returns the first GraphQL error code of err, if any. */
export function errorCode(err: CombinedError | undefined | null): string | undefined {
  return err?.graphQLErrors[0]?.extensions?.code as string | undefined
}
