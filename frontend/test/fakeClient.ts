// A real urql client whose only exchange answers as the test decides and
// records every operation (queries, mutations, subscriptions).
import { Client, makeResult, type Exchange, type Operation } from '@urql/core'
import { filter, map, merge, mergeMap, fromValue, makeSubject, never, pipe, share } from 'wonka'

export interface Recorded {
  kind: string
  name: string
  variables: Record<string, unknown>
}

/** FakeError, returned by an answer, is a GraphQL error with its extensions.code. */
export class FakeError {
  constructor(
    readonly message: string,
    readonly code: string,
  ) {}
}

/**
 * fakeClient answers queries and mutations with answer(name, variables)
 * (undefined: never answers); subscriptions receive what emit(data) pushes.
 */
export function fakeClient(answer: (name: string, variables: Record<string, unknown>) => unknown) {
  const calls: Recorded[] = []
  const pushed = makeSubject<unknown>()
  const exchange: Exchange = () => (ops$) => {
    const shared = pipe(ops$, share)
    return merge([
      pipe(
        shared,
        filter((op: Operation) => op.kind !== 'teardown'),
        mergeMap((op: Operation) => {
          const name = op.query.definitions.map((d) => ('name' in d ? d.name?.value : undefined)).find(Boolean) ?? ''
          calls.push({ kind: op.kind, name, variables: op.variables as Record<string, unknown> })
          if (op.kind === 'subscription') return pipe(pushed.source, map((data) => makeResult(op, { data: data as Record<string, unknown> })))
          const data = answer(name, op.variables as Record<string, unknown>)
          if (data instanceof FakeError) return fromValue(makeResult(op, { data: null, errors: [{ message: data.message, extensions: { code: data.code } }] }))
          return data === undefined ? never : fromValue(makeResult(op, { data: data as Record<string, unknown> }))
        }),
      ),
      pipe(shared, filter(() => false), map(() => null as never)),
    ])
  }
  const client = new Client({ url: 'http://test.invalid/graphql', exchanges: [exchange] })
  return { client, calls, emit: (data: unknown) => pushed.next(data) }
}
