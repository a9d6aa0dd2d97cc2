// The steward's pages on the lineage engine and policies: impact, the
// proposed-schema check, classification preview and explain, violations;
// webhooks' secret, delivery log, dead letters and replay.
import { describe, expect, it } from 'vitest'
import { act, render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import type { ReactNode } from 'react'
import { Provider } from 'urql'
import { Router } from 'wouter'
import { memoryLocation } from 'wouter/memory-location'
import { FakeError, fakeClient } from './fakeClient'
import { LiveProvider } from '../src/api/live'
import type { Api } from '../src/api/client'
import { ImpactPage } from '../src/pages/ImpactPage'
import { SchemaCheckPage } from '../src/pages/SchemaCheckPage'
import { ViolationsPage } from '../src/pages/ViolationsPage'
import { ClassificationEditor } from '../src/components/Classifications'
import { WebhookPage, WebhooksPage } from '../src/pages/WebhooksPage'

type Answer = Parameters<typeof fakeClient>[0]

/** mount renders ui at path (pathname and search) inside the app's providers with a fake API. */
function mount(ui: ReactNode, path: string, answer: Answer) {
  const fake = fakeClient(answer)
  window.history.replaceState(null, '', path)
  const [pathname, search = ''] = path.split('?')
  const loc = memoryLocation({ path: pathname + (search ? '?' + search : ''), record: true })
  const api = { client: fake.client, ws: {} as Api['ws'], onState: () => () => {} } as unknown as Api
  render(
    <Provider value={fake.client}>
      <LiveProvider api={api}>
        <Router hook={loc.hook} searchHook={loc.searchHook}>
          {ui}
        </Router>
      </LiveProvider>
    </Provider>,
  )
  return { ...fake, loc }
}

const asset = (urn: string, kind: string, name: string, extra: Record<string, unknown> = {}) => ({ urn, kind, name, description: null, deleted: false, classifications: [], ...extra })
const impacted = (a: ReturnType<typeof asset>, hops: number, path: string[], extra: Record<string, unknown> = {}) => ({
  hops,
  path,
  exact: true,
  fields: [],
  state: null,
  lag: null,
  asset: { owners: [], ...a },
  ...extra,
})
const change = (type: string, subject: string) => ({ changes: { id: '9', type, subject, time: '2026-01-01T00:00:00Z', source: '/watershed', actor: null, data: null } })

describe('ImpactPage', () => {
  const topic = 'urn:topic:prod/orders'
  const group = asset('urn:group:prod/billing', 'CONSUMER_GROUP', 'billing')
  const sink = asset('urn:table:postgres://dwh:5432/dwh.public.orders', 'TABLE', 'orders')
  const empty = { consumerGroups: [], connectors: [], jobs: [], datasets: [], topics: [], fields: [], other: [] }

  it('groups downstream assets by kind with hops, owners, state, lag and the path', async () => {
    let answers = 0
    const { calls, emit } = mount(<ImpactPage />, '/impact/' + topic, (name) => {
      if (name !== 'Impact') return undefined
      answers++
      return {
        impact: {
          ...empty,
          level: 'DATASET',
          truncated: false,
          seq: '7',
          root: asset(topic, 'TOPIC', 'orders'),
          consumerGroups: [impacted({ ...group, owners: ['team-billing'] } as never, 1, [topic, group.urn], { state: 'Stable', lag: 42 })],
          datasets: [impacted(sink, 2, [topic, 'urn:connector:prod-connect/dwh-sink', sink.urn])],
        },
      }
    })
    await screen.findByText('2 assets downstream')
    expect(calls.find((c) => c.name === 'Impact')?.variables).toMatchObject({ urn: topic, depth: 0 })
    const groups = screen.getByRole('table', { name: 'Consumer groups' })
    const row = within(groups).getAllByRole('link', { name: /billing/ })[0].closest('tr')!
    expect(row.textContent).toContain('team-billing')
    expect(row.textContent).toContain('Stable')
    expect(row.textContent).toContain('42')
    const sinks = screen.getByRole('table', { name: 'Tables and datasets' })
    const steps = within(sinks).getByRole('list', { name: 'Path' })
    const links = [...steps.querySelectorAll('li a')]
    expect(links.map((a) => a.getAttribute('title'))).toEqual([topic, 'urn:connector:prod-connect/dwh-sink', sink.urn])
    expect(links.map((a) => a.lastChild?.textContent)).toEqual(['orders', 'dwh-sink', 'dwh.public.orders'])
    expect(screen.getByRole('link', { name: /1\s*Consumer groups/ }).getAttribute('href')).toBe('#imp-consumerGroups')
    // New lineage refetches without reload.
    const before = answers
    act(() => emit(change('lineage.edge.added', 'urn:connector:prod-connect/dwh-sink')))
    await waitFor(() => expect(answers).toBeGreaterThan(before), { timeout: 2000 })
  })

  it('from a field: the fields involved and readers that are not exact', async () => {
    const field = 'urn:field:prod/orders/value/customer.email'
    mount(<ImpactPage />, '/impact/' + field, (name) =>
      name === 'Impact'
        ? {
            impact: {
              ...empty,
              level: 'FIELD',
              truncated: false,
              seq: '7',
              root: asset(field, 'FIELD', 'customer.email'),
              consumerGroups: [impacted(group, 1, [field, topic, group.urn], { exact: false, fields: [field] })],
            },
          }
        : undefined,
    )
    const table = await screen.findByRole('table', { name: 'Consumer groups' })
    expect(within(table).getByText('not exact')).toBeTruthy()
    expect(within(table).getByText('customer.email')).toBeTruthy()
  })

  it('shows an API error as a message', async () => {
    mount(<ImpactPage />, '/impact/urn:topic:prod/nope', (name) => (name === 'Impact' ? new FakeError('no asset urn:topic:prod/nope', 'NOT_FOUND') : undefined))
    expect((await screen.findByRole('alert')).textContent).toMatch(/Impact: .*NOT_FOUND.*no asset/)
  })
})

describe('SchemaCheckPage', () => {
  const subject = 'urn:subject:prod-sr/orders-value'
  const latest = '{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"email","type":"string"}]}'
  const subjects = {
    search: { totalCount: 1, edges: [{ node: { urn: subject, name: 'orders-value', properties: { compatibility: 'BACKWARD', compatibilitySource: 'global', latestVersion: 3, schemaType: 'AVRO' } } }] },
  }
  const subjectSchema = {
    asset: {
      urn: subject,
      name: 'orders-value',
      properties: {},
      versions: [
        { asset: { urn: subject.replace('subject', 'schema') + '/2', kind: 'SCHEMA_VERSION', properties: { version: 2, schema: 'old' } } },
        { asset: { urn: subject.replace('subject', 'schema') + '/3', kind: 'SCHEMA_VERSION', properties: { version: 3, schema: latest } } },
      ],
      topics: [{ asset: asset('urn:topic:prod/orders', 'TOPIC', 'orders') }],
    },
  }
  const consumer = (name: string, verdict: string, fields: string[], reason: string) => ({
    verdict,
    fields,
    reason,
    fieldLineage: verdict !== 'UNKNOWN',
    hops: 1,
    path: ['urn:topic:prod/orders', 'urn:group:prod/' + name],
    asset: { ...asset('urn:group:prod/' + name, 'CONSUMER_GROUP', name), owners: [] },
  })
  const impact = {
    schemaChangeImpact: {
      schemaType: 'AVRO',
      latestVersion: 3,
      breaking: true,
      seq: '5',
      subject: asset(subject, 'SCHEMA_SUBJECT', 'orders-value'),
      compatibility: { level: 'BACKWARD', levelSource: 'global', compatible: true, messages: [], checked: [3], readersCompatible: true, readerMessages: [] },
      changes: [{ path: 'email', kind: 'REMOVED', previousPath: null, field: 'urn:field:prod/orders/value/email', breaking: true, before: { type: 'string', nullable: false, hasDefault: false, default: null }, after: null }],
      consumers: [consumer('billing', 'BREAKING', ['email'], 'field lineage shows it depends on email (removed)'), consumer('audit', 'UNKNOWN', ['email'], 'it may depend on email'), consumer('stats', 'SAFE', ['id'], 'nothing it reads changes')],
    },
  }

  it('starts from the latest schema and shows the verdict per consumer with the fields involved', async () => {
    const { calls } = mount(<SchemaCheckPage />, '/schema-check?subject=' + encodeURIComponent(subject), (name) =>
      name === 'Subjects' ? subjects : name === 'SubjectSchema' ? subjectSchema : name === 'SchemaChangeImpact' ? impact : undefined,
    )
    const box = (await screen.findByLabelText('Candidate schema')) as HTMLTextAreaElement
    await waitFor(() => expect(box.value).toBe(latest))
    expect(screen.getByText(/compatibility/).textContent).toMatch(/latest version 3 · compatibility BACKWARD \(global\)/)
    const candidate = latest.replace(',{"name":"email","type":"string"}', '')
    await userEvent.clear(box)
    await userEvent.click(box)
    await userEvent.paste(candidate)
    await userEvent.click(screen.getByRole('button', { name: 'Check schema' }))
    const table = await screen.findByRole('table', { name: 'Consumer verdicts' })
    expect(calls.find((c) => c.name === 'SchemaChangeImpact')?.variables).toEqual({ subject, schema: candidate, schemaType: null })
    const rows = within(table).getAllByRole('row').slice(1)
    expect(rows.map((r) => r.getAttribute('data-verdict'))).toEqual(['BREAKING', 'UNKNOWN', 'SAFE'])
    expect(rows[0].textContent).toContain('email')
    expect(rows[0].textContent).toContain('depends on email (removed)')
    expect(screen.getByRole('status').textContent).toMatch(/Breaking for consumers.*1 breaking, 1 unknown, 1 safe/)
    const diff = screen.getByRole('table', { name: 'Field changes' })
    expect(within(diff).getByRole('link', { name: 'email' }).getAttribute('href')).toBe('/asset/urn:field:prod/orders/value/email')
  })

  it('shows a schema that does not parse as the server message', async () => {
    mount(<SchemaCheckPage />, '/schema-check?subject=' + encodeURIComponent(subject), (name) =>
      name === 'Subjects'
        ? subjects
        : name === 'SubjectSchema'
          ? subjectSchema
          : name === 'SchemaChangeImpact'
            ? new FakeError('the candidate schema does not parse: parse AVRO schema: invalid JSON at line 1, column 18: EOF', 'INVALID_ARGUMENT')
            : undefined,
    )
    const box = (await screen.findByLabelText('Candidate schema')) as HTMLTextAreaElement
    await waitFor(() => expect(box.value).toBe(latest))
    await userEvent.clear(box)
    await userEvent.type(box, '{{"type": "record"')
    await userEvent.click(screen.getByRole('button', { name: 'Check schema' }))
    expect((await screen.findByRole('alert')).textContent).toMatch(/Schema check: INVALID_ARGUMENT: the candidate schema does not parse.*line 1, column 18/)
    expect(screen.queryByRole('table', { name: 'Consumer verdicts' })).toBeNull()
  })
})

describe('classification preview and explain', () => {
  const defs = {
    classifications: [
      { name: 'PII', description: 'Personal', propagates: true, parent: null },
      { name: 'PII.Email', description: 'E-mail address', propagates: true, parent: 'PII' },
    ],
  }
  const column = 'urn:column:postgres://shop:5432/shop.public.customers/email'
  const field = 'urn:field:prod/cdc.shop.customers/value/after.email'
  const dwh = 'urn:column:postgres://dwh:5432/dwh.staging.customers/email'

  it('previews where a classification will propagate before classify, and not when it stays', async () => {
    const { calls } = mount(<ClassificationEditor urn={column} attachments={[]} />, '/asset/' + column, (name, v) =>
      name === 'Classifications'
        ? defs
        : name === 'PreviewClassification'
          ? {
              previewClassification: {
                origin: column,
                classification: v.classification,
                propagates: true,
                totalCount: 2,
                reached: [
                  { mode: 'READER', path: [column, field, 'urn:topic:prod/cdc.shop.customers', 'urn:group:prod/analytics'], asset: asset('urn:group:prod/analytics', 'CONSUMER_GROUP', 'analytics') },
                  { mode: 'FIELD', path: [column, field, dwh], asset: asset(dwh, 'COLUMN', 'email') },
                ],
              },
            }
          : undefined,
    )
    await userEvent.selectOptions(await screen.findByLabelText('Classification to attach'), 'PII.Email')
    const preview = await screen.findByRole('region', { name: 'Where PII.Email will propagate' })
    expect(preview.textContent).toContain('Classifying propagates PII.Email to 2 assets')
    expect(preview.textContent).toContain('1 reads it · 1 field lineage')
    // Nearest first.
    expect([...preview.querySelectorAll('li')].map((li) => li.textContent)).toEqual([expect.stringMatching(/dwh.staging.customers › email.*field lineage, 2 hops/), expect.stringMatching(/analytics.*reads it, 3 hops/)])
    expect(calls.filter((c) => c.name === 'Classify')).toHaveLength(0)
    await userEvent.click(screen.getByRole('checkbox', { name: /propagate/ }))
    expect(screen.getByRole('status').textContent).toContain('PII.Email stays on this asset')
    expect(screen.queryByRole('region', { name: 'Where PII.Email will propagate' })).toBeNull()
  })

  it('explains a propagated classification with every origin and the edges of its path', async () => {
    const att = (origin: string) => ({ name: 'PII.Email', direct: false, source: 'PROPAGATED' as const, propagate: true, origin, path: [origin, dwh], actor: null, at: null })
    mount(<ClassificationEditor urn={dwh} attachments={[att(field), att('urn:field:prod/other/value/email')]} />, '/asset/' + dwh, (name) =>
      name === 'Classifications'
        ? defs
        : name === 'ExplainClassification'
          ? {
              explainClassification: [
                {
                  classification: 'PII.Email',
                  source: 'PROPAGATED',
                  direct: false,
                  mode: 'FIELD',
                  path: [column, field, dwh],
                  origin: asset(column, 'COLUMN', 'email'),
                  hops: [
                    { from: column, to: field, containment: false, edge: { kind: 'DERIVES', masking: false, claims: [{ source: 'prod-connect', origin: 'connect-config', transform: null }] } },
                    { from: field, to: dwh, containment: false, edge: { kind: 'DERIVES', masking: true, claims: [{ source: 'prod-connect', origin: 'connect-config', transform: 'MaskField' }] } },
                  ],
                },
              ],
            }
          : undefined,
    )
    // One badge for the name, however many origins.
    const buttons = await screen.findAllByRole('button', { name: /PII\.Email.*why\?/ })
    expect(buttons).toHaveLength(1)
    await userEvent.click(buttons[0])
    const why = screen.getByRole('region', { name: 'Why PII.Email' })
    await waitFor(() => expect(why.textContent).toContain('field lineage from'))
    const hops = within(why).getByRole('list', { name: /Path from/ })
    expect([...hops.querySelectorAll('li')].map((li) => li.textContent)).toEqual(['cdc.shop.customers › after.email derives · connect-config', 'dwh.staging.customers › email derives · MaskFieldmasked'])
  })
})

describe('ViolationsPage', () => {
  const v = (status: string, extra: Record<string, unknown> = {}) => ({
    __typename: 'Violation',
    urn: 'urn:violation:pii-consumer-allowlist/urn:group:prod/analytics',
    policy: 'pii-consumer-allowlist',
    severity: 'HIGH',
    status,
    subjectUrn: 'urn:group:prod/analytics',
    message: 'consumer group analytics reads PII topic cdc.shop.customers',
    evidence: { reader: 'urn:group:prod/analytics' },
    classifications: ['PII'],
    openedAt: '2026-01-01T00:00:00Z',
    firstOpenedAt: '2026-01-01T00:00:00Z',
    resolvedAt: null,
    acknowledgedBy: null,
    acknowledgedAt: null,
    acknowledgeNote: null,
    mutedBy: null,
    mutedAt: null,
    mutedUntil: null,
    muteReason: null,
    subject: { urn: 'urn:group:prod/analytics', kind: 'CONSUMER_GROUP', name: 'analytics', deleted: false, owners: [] },
    ...extra,
  })
  const list = (nodes: unknown[]) => ({
    violations: { totalCount: nodes.length, pageInfo: { hasNextPage: false, endCursor: null }, edges: nodes.map((node) => ({ node })) },
    policies: [{ name: 'pii-consumer-allowlist', severity: 'HIGH', description: null, openViolations: nodes.length, enabled: true }],
  })

  it('acknowledges with a note and mutes with a reason and an end, and refetches on violation changes', async () => {
    let state = v('OPEN')
    let reads = 0
    const { calls, emit } = mount(<ViolationsPage />, '/violations', (name, vars) => {
      if (name === 'Violations') return reads++, list([state])
      if (name === 'AcknowledgeViolation') return (state = v('ACKNOWLEDGED', { acknowledgedBy: 'alice', acknowledgedAt: '2026-01-01T00:01:00Z', acknowledgeNote: vars.note })), { acknowledgeViolation: state }
      if (name === 'MuteViolation') return (state = v('MUTED', { mutedBy: 'alice', mutedAt: '2026-01-01T00:02:00Z', mutedUntil: vars.until, muteReason: vars.reason })), { muteViolation: state }
      return undefined
    })
    const card = await screen.findByRole('listitem', { name: 'pii-consumer-allowlist on analytics' })
    expect(card.getAttribute('data-status')).toBe('OPEN')
    await userEvent.click(within(card).getByRole('button', { name: 'Acknowledge…' }))
    const form = within(card).getByRole('form', { name: /^Acknowledge/ })
    await userEvent.click(within(form).getByLabelText('Note'))
    await userEvent.paste('alice removes the PII read')
    await userEvent.click(within(form).getByRole('button', { name: 'Acknowledge' }))
    expect(calls.find((c) => c.name === 'AcknowledgeViolation')?.variables).toEqual({ urn: state.urn, note: 'alice removes the PII read' })
    await waitFor(() => expect(screen.getByRole('listitem', { name: /analytics/ }).textContent).toContain('Acknowledged by alice'))

    await userEvent.click(within(screen.getByRole('listitem', { name: /analytics/ })).getByRole('button', { name: 'Mute…' }))
    const mute = screen.getByRole('form', { name: /^Mute/ })
    await userEvent.click(within(mute).getByLabelText('Reason'))
    await userEvent.paste('migration next week')
    await userEvent.selectOptions(within(mute).getByLabelText('Mute for'), 'for a week')
    const t0 = Date.now()
    await userEvent.click(within(mute).getByRole('button', { name: 'Mute' }))
    const vars = calls.find((c) => c.name === 'MuteViolation')!.variables
    expect(vars.reason).toBe('migration next week')
    const until = Date.parse(String(vars.until))
    expect(until - t0).toBeGreaterThan(6.9 * 86400_000)
    expect(until - t0).toBeLessThan(7.1 * 86400_000)
    await waitFor(() => expect(screen.getByRole('listitem', { name: /analytics/ }).getAttribute('data-status')).toBe('MUTED'))
    expect(within(screen.getByRole('listitem', { name: /analytics/ })).getByRole('button', { name: 'Unmute' })).toBeTruthy()

    // Live: a violation opened elsewhere arrives through the subscription.
    const before = reads
    act(() => emit(change('policy.violation.opened', 'urn:violation:no-pii-in-s3/urn:dataset:s3://lake/x')))
    await waitFor(() => expect(reads).toBeGreaterThan(before), { timeout: 2000 })
  })

  it('filters by status and policy through the URL', async () => {
    const { calls, loc } = mount(<ViolationsPage />, '/violations', (name) => (name === 'Violations' ? list([]) : undefined))
    await screen.findByText(/Nothing here/)
    await userEvent.click(screen.getByRole('button', { name: 'Resolved' }))
    await waitFor(() => expect(calls.some((c) => c.name === 'Violations' && c.variables.status === 'RESOLVED')).toBe(true))
    expect(loc.history!.at(-1)).toBe('/violations?status=RESOLVED')
    await userEvent.selectOptions(screen.getByLabelText('Policy'), 'pii-consumer-allowlist')
    await waitFor(() => expect(calls.some((c) => c.name === 'Violations' && c.variables.policy === 'pii-consumer-allowlist' && c.variables.status === 'RESOLVED')).toBe(true))
  })
})

describe('WebhookPage', () => {
  const hook = {
    __typename: 'Webhook',
    id: 'wh1',
    name: 'pager',
    url: 'https://hooks.example.com/services/T0/B0/secret-token',
    description: null,
    types: ['policy.violation.*'],
    filter: { classification: 'PII', urn: null, downstreamOf: null, hops: 0, ownedBy: null },
    format: 'CLOUDEVENTS',
    enabled: true,
    disabledReason: null,
    disabledAt: null,
    activeSecrets: 1,
    rotatingUntil: null,
    failingSince: '2026-01-01T00:00:00Z',
    lastSuccessAt: null,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    pending: 0,
    attempts: [{ webhookId: 'msg_1', change: '41', type: 'policy.violation.opened', number: 4, at: '2026-01-01T01:00:00Z', status: 503, latencyMs: 12.4, error: 'HTTP 503', response: 'busy', outcome: 'dead' }],
    deadLetters: [{ webhookId: 'msg_1', change: '41', type: 'policy.violation.opened', subject: 'urn:violation:p/urn:topic:prod/x', attempts: 4, createdAt: '2026-01-01T00:00:00Z', lastError: 'busy', lastStatus: 503, deadAt: '2026-01-01T01:00:00Z' }],
  }

  it('shows the delivery log and dead letters without the URL path, and replays them', async () => {
    let replayed = false
    const { calls } = mount(<WebhookPage params={{ id: 'wh1' }} />, '/webhooks/wh1', (name) =>
      name === 'Webhook' ? { webhook: replayed ? { ...hook, deadLetters: [], pending: 1 } : hook } : name === 'ReplayDeadLetters' ? ((replayed = true), { replayDeadLetters: 1 }) : undefined,
    )
    await screen.findByRole('heading', { level: 1, name: 'pager' })
    // The path of a webhook URL may carry a token: only scheme and host are shown.
    expect(document.body.textContent).not.toContain('secret-token')
    const log = screen.getByRole('table', { name: 'Delivery log' })
    expect(within(log).getByText('dead')).toBeTruthy()
    expect(within(log).getByText('503')).toBeTruthy()
    const dead = screen.getByRole('table', { name: 'Dead letters' })
    expect(within(dead).getByText('urn:violation:p/urn:topic:prod/x')).toBeTruthy()
    await userEvent.click(screen.getByRole('button', { name: 'Replay all' }))
    expect(calls.find((c) => c.name === 'ReplayDeadLetters')?.variables).toEqual({ webhook: 'wh1' })
    expect((await screen.findByText('1 deliveries queued again.')).getAttribute('role')).toBe('status')
    await waitFor(() => expect(screen.getByText('No dead letters.')).toBeTruthy())
  })

  it('shows the signing secret of a new webhook once', async () => {
    let created = false
    const { calls } = mount(<WebhooksPage />, '/webhooks', (name, v) =>
      name === 'Webhooks'
        ? { webhooks: created ? [hook] : [] }
        : name === 'Classifications'
          ? { classifications: [] }
          : name === 'CreateWebhook'
            ? ((created = true), { createWebhook: { secret: 'whsec_c2VjcmV0', webhook: { ...hook, url: (v.input as { url: string }).url } } })
            : undefined,
    )
    await screen.findByText('No webhooks yet.')
    await userEvent.click(screen.getByRole('button', { name: 'New webhook' }))
    await userEvent.click(screen.getByLabelText('Receiver URL'))
    await userEvent.paste('https://hooks.example.com/x')
    await userEvent.click(screen.getByRole('button', { name: 'Create webhook' }))
    expect((await screen.findByTestId('webhook-secret')).textContent).toBe('whsec_c2VjcmV0')
    expect(calls.find((c) => c.name === 'CreateWebhook')?.variables.input).toMatchObject({ url: 'https://hooks.example.com/x', types: ['classification.*', 'policy.violation.*'] })
    // Starting another creation hides it: it is never shown again.
    await userEvent.click(screen.getByRole('button', { name: 'New webhook' }))
    expect(screen.queryByTestId('webhook-secret')).toBeNull()
  })
})
