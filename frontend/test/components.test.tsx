import { describe, expect, it } from 'vitest'
import { act, render, screen, fireEvent, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { Provider } from 'urql'
import { Router } from 'wouter'
import { memoryLocation } from 'wouter/memory-location'
import { fakeClient } from './fakeClient'
import { GlobalSearch } from '../src/components/GlobalSearch'
import { ClassificationEditor } from '../src/components/Classifications'
import { ConnectionIndicator } from '../src/components/ConnectionIndicator'
import { LiveProvider, ReadingHistory } from '../src/api/live'
import { Sparkline, ErrorMessage } from '../src/components/ui'
import type { Api, ConnectionState } from '../src/api/client'
import { CombinedError } from '@urql/core'
import type { AttachmentSource } from '../src/gql/graphql'

const hit = (urn: string, kind: string, name: string) => ({
  cursor: urn,
  node: { urn, kind, name, description: null, deleted: false, classifications: [], sources: ['prod'], updatedAt: null },
})

describe('GlobalSearch', () => {
  it('searches as you type, moves with arrows and opens with Enter', async () => {
    const { client, calls } = fakeClient((name, v) =>
      name === 'Search'
        ? {
            search: {
              totalCount: 2,
              pageInfo: { hasNextPage: false, endCursor: null },
              edges: String(v.query).startsWith('ord') ? [hit('urn:topic:prod/orders', 'TOPIC', 'orders'), hit('urn:group:prod/orders-app', 'CONSUMER_GROUP', 'orders-app')] : [],
            },
          }
        : undefined,
    )
    const loc = memoryLocation({ path: '/', record: true })
    render(
      <Provider value={client}>
        <Router hook={loc.hook}>
          <GlobalSearch />
        </Router>
      </Provider>,
    )
    const box = screen.getByRole('combobox', { name: 'Search the catalog' })
    // `/` focuses the box from anywhere.
    fireEvent.keyDown(window, { key: '/' })
    expect(document.activeElement).toBe(box)
    await userEvent.type(box, 'ord')
    const options = await screen.findAllByRole('option')
    expect(options.map((o) => o.textContent)).toEqual([expect.stringContaining('orders'), expect.stringContaining('orders-app')])
    expect(calls.some((c) => c.name === 'Search' && c.variables.query === 'ord' && c.variables.first === 8)).toBe(true)
    await userEvent.keyboard('{ArrowDown}{ArrowDown}')
    expect(screen.getAllByRole('option')[1].getAttribute('aria-selected')).toBe('true')
    expect(box.getAttribute('aria-activedescendant')).toBe(screen.getAllByRole('option')[1].id)
    await userEvent.keyboard('{Enter}')
    expect(loc.history!.at(-1)).toBe('/asset/urn:group:prod/orders-app')
  })

  it('Enter without a selection opens the full search', async () => {
    const { client } = fakeClient(() => ({ search: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] } }))
    const loc = memoryLocation({ path: '/', record: true })
    render(
      <Provider value={client}>
        <Router hook={loc.hook}>
          <GlobalSearch />
        </Router>
      </Provider>,
    )
    await userEvent.type(screen.getByRole('combobox'), 'customer email{Enter}')
    expect(loc.history!.at(-1)).toBe('/search?q=customer%20email')
  })
})

describe('ClassificationEditor', () => {
  const defs = {
    classifications: [
      { name: 'PII', description: 'Personal', propagates: true, parent: null },
      { name: 'PII.Email', description: 'E-mail address', propagates: true, parent: 'PII' },
      { name: 'Public', description: 'Cleared', propagates: false, parent: null },
    ],
  }
  const att = (name: string, o: Partial<{ direct: boolean; source: string; origin: string; path: string[] }> = {}) => ({
    name,
    direct: o.direct ?? true,
    source: (o.source ?? 'MANUAL') as AttachmentSource,
    propagate: true,
    origin: o.origin ?? null,
    path: o.path ?? [],
    actor: null,
    at: null,
  })

  it('attaches with propagation and detaches manual classifications', async () => {
    const { client, calls } = fakeClient((name) => (name === 'Classifications' ? defs : name === 'Classify' || name === 'Declassify' ? { classify: { urn: 'u', classifications: [] }, declassify: { urn: 'u', classifications: [] } } : undefined))
    render(
      <Provider value={client}>
        <ClassificationEditor urn="urn:column:pg://h/db.t/email" attachments={[att('Confidential'), att('PII', { source: 'SCHEMA_TAG' })]} />
      </Provider>,
    )
    // Only manual attachments can be removed here; tags follow their schema.
    expect(screen.getByRole('button', { name: 'Remove Confidential' })).toBeTruthy()
    expect(screen.queryByRole('button', { name: 'Remove PII' })).toBeNull()
    await userEvent.selectOptions(screen.getByLabelText('Classification to attach'), 'PII.Email')
    await userEvent.click(screen.getByRole('button', { name: 'Classify' }))
    expect(calls.find((c) => c.name === 'Classify')?.variables).toEqual({ urn: 'urn:column:pg://h/db.t/email', classification: 'PII.Email', propagate: true })
    await userEvent.click(screen.getByRole('button', { name: 'Remove Confidential' }))
    expect(calls.find((c) => c.name === 'Declassify')?.variables).toEqual({ urn: 'urn:column:pg://h/db.t/email', classification: 'Confidential' })
  })

  it('a classification that never propagates cannot be asked to', async () => {
    const { client, calls } = fakeClient((name) => (name === 'Classifications' ? defs : { classify: { urn: 'u', classifications: [] } }))
    render(
      <Provider value={client}>
        <ClassificationEditor urn="u" attachments={[]} />
      </Provider>,
    )
    await userEvent.selectOptions(screen.getByLabelText('Classification to attach'), 'Public')
    expect((screen.getByRole('checkbox', { name: /propagate/ }) as HTMLInputElement).disabled).toBe(true)
    await userEvent.click(screen.getByRole('button', { name: 'Classify' }))
    expect(calls.find((c) => c.name === 'Classify')?.variables.classification).toBe('Public')
  })

  it('explains a propagated classification by its path', async () => {
    const { client } = fakeClient((name) => (name === 'Classifications' ? defs : undefined))
    render(
      <Provider value={client}>
        <ClassificationEditor urn="urn:column:dwh/email" attachments={[att('PII.Email', { direct: false, source: 'PROPAGATED', origin: 'urn:column:shop/email', path: ['urn:column:shop/email', 'urn:field:prod/c/value/after.email', 'urn:column:dwh/email'] })]} />
      </Provider>,
    )
    await userEvent.click(screen.getByRole('button', { name: /PII\.Email.*why\?/ }))
    const why = screen.getByRole('region', { name: 'Why PII.Email' })
    expect(why.textContent).toContain('propagated from')
    expect([...why.querySelectorAll('ol li')].map((li) => li.textContent)).toEqual(['urn:column:shop/email', 'urn:field:prod/c/value/after.email', 'urn:column:dwh/email'])
  })
})

describe('live', () => {
  it('shows the websocket connection state as it changes', async () => {
    const { client } = fakeClient(() => undefined)
    let emit: (s: ConnectionState) => void = () => {}
    const api = { client, ws: {} as Api['ws'], onState: (fn: (s: ConnectionState) => void) => ((emit = fn), () => {}) } as Api
    render(
      <LiveProvider api={api}>
        <ConnectionIndicator />
      </LiveProvider>,
    )
    const status = screen.getByRole('status')
    expect(status.textContent).toContain('Connecting')
    act(() => emit('connected'))
    expect(status.getAttribute('data-state')).toBe('connected')
    expect(status.textContent).toContain('Live')
    act(() => emit('reconnecting'))
    expect(status.textContent).toContain('Reconnecting')
  })

  it('keeps readings per asset, one per second at most, capped', () => {
    const h = new ReadingHistory(3)
    h.record('g', 5, 1000)
    h.record('g', 7, 1500) // same second: replaces
    h.record('g', 8, 3000)
    h.record('g', 9, 5000)
    h.record('g', 10, 7000)
    h.record('g', NaN, 9000)
    expect(h.get('g').map((p) => p.v)).toEqual([8, 9, 10])
    expect(h.get('other')).toEqual([])
  })

  it('draws a sparkline that names its range', () => {
    render(<Sparkline points={[{ t: 0, v: 3 }, { t: 1000, v: 9 }, { t: 2000, v: 6 }]} label="Lag" />)
    expect(screen.getByRole('img').getAttribute('aria-label')).toBe('Lag: 3 readings, 3 to 9, now 6')
    render(<Sparkline points={[]} label="Lag" />)
    expect(screen.getByText('no readings yet')).toBeTruthy()
  })
})

describe('errors', () => {
  it('names the API error code and says what to do', async () => {
    const err = new CombinedError({ graphQLErrors: [{ message: 'mutations need a bearer token with write access', extensions: { code: 'UNAUTHENTICATED' } }] })
    render(<ErrorMessage error={err} what="Classify" />)
    await waitFor(() => expect(screen.getByRole('alert').textContent).toMatch(/Classify: UNAUTHENTICATED: mutations need a bearer token.*set a bearer token/))
  })
})
