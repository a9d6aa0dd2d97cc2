// A real urql client whose only exchange answers as the test decides and
// records every operation (queries, mutations, subscriptions).
import { Client, makeResult, type Exchange, type Operation } from '@urql/core'
import { filter, map, merge, mergeMap, fromValue, never, pipe, share } from 'wonka'

export interface Recorded {
  kind: string
  name: string
  variables: Record<string, unknown>
}

export function fakeClient(answer: (name: string, variables: Record<string, unknown>) => unknown) {
  const calls: Recorded[] = []
  const exchange: Exchange = () => (ops$) => {
    const shared = pipe(ops$, share)
    return merge([
      pipe(
        shared,
        filter((op: Operation) => op.kind !== 'teardown'),
        mergeMap((op: Operation) => {
          const name = op.query.definitions.map((d) => ('name' in d ? d.name?.value : undefined)).find(Boolean) ?? ''
          calls.push({ kind: op.kind, name, variables: op.variables as Record<string, unknown> })
          const data = answer(name, op.variables as Record<string, unknown>)
          return data === undefined ? never : fromValue(makeResult(op, { data }))
        }),
      ),
      pipe(shared, filter(() => false), map(() => null as never)),
    ])
  }
  const client = new Client({ url: 'http://test.invalid/graphql', exchanges: [exchange] })
  return { client, calls }
}
